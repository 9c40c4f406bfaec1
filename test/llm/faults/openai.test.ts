import { faultSuite } from "./suite.ts";

faultSuite("openai");
