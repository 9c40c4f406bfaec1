import { faultSuite } from "./suite.ts";

faultSuite("compatible");
