// Texts that several parts of the console (and its tests) share.

export const SESSION_EXPIRED = "Your session has expired. Sign in again.";
export const DELETE_NOTICE = "Access ends within 10 seconds on model calls and at once on the token API.";
export const NOT_SHOWN_AGAIN = "This token will not be shown again.";
export const SAVED_CHECKBOX = "I have securely saved this token";
export const ADMIN_ONLY = "Only administrators can open this page.";
