// The side navigation's links and which pages are for admins only, in one
// place so the two cannot drift apart.
import type { SideNavigationProps } from "@cloudscape-design/components/side-navigation";
import { href, ROUTES } from "./router";

const ADMIN_ROUTES: readonly string[] = [ROUTES.tokens, ROUTES.createToken, ROUTES.settings, ROUTES.usage];

export function isAdminOnly(route: string): boolean {
  return ADMIN_ROUTES.includes(route);
}

export function navigationItems(isAdmin: boolean, showMyToken: boolean): SideNavigationProps.Item[] {
  const items: SideNavigationProps.Item[] = [];
  if (isAdmin) items.push({ type: "link", text: "API Token Management", href: href(ROUTES.tokens) });
  if (showMyToken) items.push({ type: "link", text: "My API Token", href: href(ROUTES.myToken) });
  if (isAdmin) items.push({ type: "link", text: "Usage", href: href(ROUTES.usage) });
  if (isAdmin) items.push({ type: "link", text: "Settings", href: href(ROUTES.settings) });
  return items;
}
