// Maps an API error message to the form field it is about, so the wizard and
// the self-service form can put it on that field as well as in an alert.

export type FieldKey = "username" | "name" | "groups" | "expiration";

// Tried in order against the message's first word, then anywhere in it.
// "username" comes before "name" since it contains it.
const RULES: { field: FieldKey; re: RegExp }[] = [
  { field: "expiration", re: /\b(tokenExpiration|expiresIn|expir\w*)/i },
  { field: "username", re: /\b(username|user \S+ already has a token)\b/i },
  { field: "groups", re: /\bgroups\b|\bgroups\[\d+\]|\bgroup "/i },
  { field: "name", re: /\bname\b/i },
];

/** The field an API message concerns, or undefined when it names none. */
export function fieldForMessage(message: string | undefined | null): FieldKey | undefined {
  if (!message) return undefined;
  const first = message.trim().split(/[\s:]/, 1)[0] ?? "";
  for (const r of RULES) {
    if (r.re.test(first)) return r.field;
  }
  // The message does not start with a field name: look for one anywhere,
  // ignoring route templates such as "/api-tokens/{username}".
  const text = message.replace(/\/[\w\-/{}]*/g, " ");
  for (const r of RULES) {
    if (r.re.test(text)) return r.field;
  }
  return undefined;
}
