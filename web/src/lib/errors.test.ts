import { describe, expect, it } from "vitest";
import { fieldForMessage } from "./errors";

describe("fieldForMessage", () => {
  it.each([
    ["username must not be empty", "username"],
    ["username must not contain whitespace, control characters or '/'", "username"],
    ["user bob already has a token: delete it before creating a new one", "username"],
    ["name is required", "name"],
    ["name must be at most 128 characters", "name"],
    ["name must not contain control characters", "name"],
    ["groups must hold at most 50 entries", "groups"],
    ["groups[3] must be a non-empty string", "groups"],
    ['group "x" is not held by the API token making this request: a token cannot grant groups its creator lacks (sign in to create it)', "groups"],
    ["groups cannot be set on your own token: it inherits your current groups", "groups"],
    ['tokenExpiration must be in the future: it is a Unix time in seconds; for a duration from now, send expiresIn such as "90d"', "expiration"],
    ["tokenExpiration is beyond the maximum token lifetime of 365 days (latest allowed: 1830000000)", "expiration"],
    ["tokenExpiration is after the expiry of the API token making this request (1): a token cannot outlive the token that creates it", "expiration"],
    ["send either tokenExpiration or expiresIn, not both", "expiration"],
    ["The token has expired", "expiration"],
  ])("%s -> %s", (msg, field) => {
    expect(fieldForMessage(msg)).toBe(field);
  });

  it.each([
    "isSystemToken cannot be set on your own token: only admins create system tokens, with POST /api-tokens/{username}",
    "user-managed tokens are disabled",
    "The token store cannot be reached; try again",
    "",
  ])("%s -> no field", (msg) => {
    expect(fieldForMessage(msg)).toBeUndefined();
  });
});
