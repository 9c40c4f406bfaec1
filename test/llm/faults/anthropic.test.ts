import { faultSuite } from "./suite.ts";

faultSuite("anthropic");
