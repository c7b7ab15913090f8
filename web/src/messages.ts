// Texts that several parts of the console (and its tests) share.

export const SESSION_EXPIRED = "Your session has expired. Sign in again.";
/** What deleting a token does, given the deployment's TOKEN_CACHE_SECONDS (10 by default). */
export function deleteNotice(revocationSeconds = 10): string {
  if (revocationSeconds === 0) return "Access ends at once, on model calls and on the token API.";
  const unit = revocationSeconds === 1 ? "second" : "seconds";
  return `Access ends within ${revocationSeconds} ${unit} on model calls and at once on the token API.`;
}
export const DELETE_NOTICE = deleteNotice();
/** What disabling a token does; it can be enabled again. */
export function disableNotice(revocationSeconds = 10): string {
  const when =
    revocationSeconds === 0
      ? "at once, on model calls and on the token API"
      : `within ${revocationSeconds} ${revocationSeconds === 1 ? "second" : "seconds"} on model calls and at once on the token API`;
  return `The token is refused ${when} until it is enabled again.`;
}
export const NOT_SHOWN_AGAIN = "This token will not be shown again.";
export const SAVED_CHECKBOX = "I have securely saved this token";
export const ADMIN_ONLY = "Only administrators can open this page.";
