// Checks of form values shared by the create and edit forms.

export function nameProblem(n: string): string | undefined {
  if (!n.trim()) return "Enter a token name.";
  if (n.trim().length > 128) return "A token name has at most 128 characters.";
  return undefined;
}
