export type { Auth, AuthChallenge, AuthRequest, AuthRetry } from "./auth.js";
export { BasicAuth, type BasicAuthEncoding, BearerAuth } from "./basic-auth.js";
export { type ParsedChallenge, parseChallenges } from "./challenge.js";
export { type DigestAlgorithm, DigestAuth, type DigestAuthOptions } from "./digest-auth.js";
