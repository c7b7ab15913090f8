// A tiny hash router: the page is the part after "#", so any static host
// serves the console without a fallback route, and the sign-in redirect
// (to "/") never collides with a page path.
import { useEffect, useState } from "react";

export const ROUTES = {
  home: "/",
  tokens: "/tokens",
  createToken: "/tokens/create",
  myToken: "/my-token",
  settings: "/settings",
  usage: "/usage",
} as const;

/** The href of a route, for links. */
export function href(route: string): string {
  return "#" + route;
}

export function currentRoute(): string {
  const h = window.location.hash.replace(/^#/, "");
  const path = h.split("?")[0];
  return path === "" ? "/" : path.startsWith("/") ? path : "/" + path;
}

export function navigate(route: string): void {
  if (currentRoute() !== route) window.location.hash = route;
}

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
