// The console's frame: sign-in state, top and side navigation, flash
// messages, and the page for the current route.
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useAuth } from "react-oidc-context";
import type { UserManager } from "oidc-client-ts";
import Alert from "@cloudscape-design/components/alert";
import AppLayout from "@cloudscape-design/components/app-layout";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import Flashbar, { type FlashbarProps } from "@cloudscape-design/components/flashbar";
import Header from "@cloudscape-design/components/header";
import SideNavigation from "@cloudscape-design/components/side-navigation";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import TopNavigation from "@cloudscape-design/components/top-navigation";
import TokenDisplayModal from "./components/TokenDisplayModal";
import { ApiClient, errorMessage } from "./lib/api";
import { idTokenExpiry } from "./lib/auth";
import type { ConsoleConfig } from "./lib/config";
import { localTimeZone } from "./lib/dates";
import { rolesFrom, usernameFrom, type Claims } from "./lib/roles";
import type { CreatedToken } from "./lib/tokens";
import { ADMIN_ONLY, SESSION_EXPIRED } from "./messages";

// Pages load on first use, so the sign-in page and the frame come first.
const CreateTokenWizard = lazy(() => import("./pages/CreateTokenWizard"));
const MyTokenPage = lazy(() => import("./pages/MyTokenPage"));
const SettingsPage = lazy(() => import("./pages/SettingsPage"));
const TokensPage = lazy(() => import("./pages/TokensPage"));
const UsagePage = lazy(() => import("./pages/UsagePage"));
import { isAdminOnly, navigationItems } from "./nav";
import { href, navigate, ROUTES, useRoute } from "./router";
import { SessionContext, type Session, type SettingsState } from "./session";
import { useTokenStore } from "./tokenStore";

export const APP_TITLE = "API Tokens";

export interface AppProps {
  config: ConsoleConfig;
  userManager: UserManager;
}

export default function App({ config, userManager }: AppProps) {
  const auth = useAuth();
  const signIn = useCallback(() => {
    // Come back to the page the user was on.
    void auth.signinRedirect({ url_state: window.location.hash || undefined });
  }, [auth]);

  if (auth.isLoading || auth.activeNavigator) {
    return (
      <Centered>
        <Spinner size="large" /> <Box variant="span">Signing in…</Box>
      </Centered>
    );
  }
  if (!auth.isAuthenticated || !auth.user) {
    return (
      <Centered>
        <Container header={<Header variant="h1">{APP_TITLE}</Header>}>
          <SpaceBetween size="m">
            <Box variant="p">Sign in to manage API tokens for the model gateway.</Box>
            {auth.error && (
              <Alert type="error" header="Sign-in failed">
                {auth.error.message}
              </Alert>
            )}
            <Button variant="primary" onClick={signIn}>
              Sign in
            </Button>
          </SpaceBetween>
        </Container>
      </Centered>
    );
  }
  return <SignedIn config={config} userManager={userManager} signIn={signIn} />;
}

function Centered({ children }: { children: React.ReactNode }) {
  return (
    <Box padding="xxxl" margin={{ top: "xxxl" }}>
      <div style={{ maxWidth: 560, margin: "0 auto" }}>{children}</div>
    </Box>
  );
}

let flashSeq = 0;

function SignedIn({ config, userManager, signIn }: AppProps & { signIn: () => void }) {
  const auth = useAuth();
  const user = auth.user!;
  const route = useRoute();
  const [expired, setExpired] = useState(false);
  const [flashes, setFlashes] = useState<FlashbarProps.MessageDefinition[]>([]);
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [settings, setSettings] = useState<SettingsState>({ loading: true });

  const claims = user.profile as unknown as Claims;
  const roles = useMemo(() => rolesFrom(claims, config.groupsClaim, config.adminGroup, config.apiGroup), [claims, config]);
  const username = usernameFrom(claims, config.usernameClaim) ?? "";
  const timeZone = useMemo(() => localTimeZone(), []);

  // The API client reads the current ID token on every call.
  const idTokenRef = useRef(user.id_token);
  idTokenRef.current = user.id_token;
  const api = useMemo(
    () => new ApiClient({ baseUrl: config.apiUrl, getToken: () => idTokenRef.current, onUnauthorized: () => setExpired(true) }),
    [config.apiUrl],
  );

  // No silent renew: when the ID token expires, ask the user to sign in again.
  useEffect(() => {
    const exp = idTokenExpiry(user);
    if (!exp) return;
    const ms = exp * 1000 - Date.now();
    if (ms <= 0) {
      setExpired(true);
      return;
    }
    setExpired(false);
    const t = setTimeout(() => setExpired(true), Math.min(ms, 2 ** 31 - 1));
    return () => clearTimeout(t);
  }, [user]);

  useEffect(() => {
    let live = true;
    api
      .getSettings()
      .then((s) => live && setSettings({ loading: false, allowUserManagedTokens: Boolean(s?.allowUserManagedTokens) }))
      .catch((err) => live && setSettings({ loading: false, error: errorMessage(err) }));
    return () => {
      live = false;
    };
  }, [api]);

  const notify = useCallback<Session["notify"]>((item) => {
    const id = item.id ?? `flash-${++flashSeq}`;
    const dismiss = () => setFlashes((fs) => fs.filter((f) => f.id !== id));
    setFlashes((fs) => [...fs.filter((f) => f.id !== id), { ...item, id, onDismiss: item.dismissible ? dismiss : undefined, dismissLabel: "Dismiss message" }]);
  }, []);

  const store = useTokenStore(api);

  // Messages belong to the page they were shown on.
  useEffect(() => setFlashes([]), [route]);

  const signOut = useCallback(async () => {
    let endSession: string | undefined;
    try {
      endSession = await userManager.metadataService.getEndSessionEndpoint();
    } catch {
      endSession = undefined;
    }
    if (endSession) {
      await auth.signoutRedirect();
    } else {
      await auth.removeUser();
      window.location.assign("/");
    }
  }, [auth, userManager]);

  const showMyToken = roles.isAdmin || (roles.isApiUser && settings.allowUserManagedTokens !== false);

  const session: Session = {
    config,
    api,
    roles,
    username,
    timeZone,
    settings,
    setAllowUserManagedTokens: (v) => setSettings({ loading: false, allowUserManagedTokens: v }),
    notify,
    showCreated: setCreated,
  };

  // The start page is the first page the user may see.
  const home = roles.isAdmin ? ROUTES.tokens : ROUTES.myToken;
  useEffect(() => {
    if (route === ROUTES.home) navigate(home);
  }, [route, home]);
  // The usage overview names tokens from the token list: load it there too.
  const { ensureLoaded } = store;
  useEffect(() => {
    if (route === ROUTES.usage && roles.isAdmin) ensureLoaded();
  }, [route, roles.isAdmin, ensureLoaded]);

  let content: React.ReactNode;
  const adminOnly = isAdminOnly(route);
  if (adminOnly && !roles.isAdmin) {
    content = (
      <Alert type="error" header="Access denied">
        {ADMIN_ONLY}
      </Alert>
    );
  } else if (route === ROUTES.tokens) {
    content = <TokensPage store={store} />;
  } else if (route === ROUTES.createToken) {
    content = (
      <ContentLayout header={<Header variant="h1">Create token</Header>}>
        <CreateTokenWizard
          timeZone={timeZone}
          create={(u, req) => api.createForUser(u, req)}
          onCreated={(c) => {
            store.add(c);
            setCreated(c);
            navigate(ROUTES.tokens);
          }}
          onCancel={() => navigate(ROUTES.tokens)}
        />
      </ContentLayout>
    );
  } else if (route === ROUTES.myToken) {
    content = (
      <MyTokenPage
        onCreated={store.loadedOnce ? store.add : undefined}
        onDeleted={store.loadedOnce ? store.remove : undefined}
        onChanged={store.loadedOnce ? store.reload : undefined}
      />
    );
  } else if (route === ROUTES.usage) {
    content = <UsagePage rows={store.rows} />;
  } else if (route === ROUTES.settings) {
    content = <SettingsPage />;
  } else if (route === ROUTES.home) {
    content = <Spinner />;
  } else {
    content = (
      <Alert type="warning" header="Page not found" action={<Button onClick={() => navigate(home)}>Go to the start page</Button>}>
        There is no page at {route}.
      </Alert>
    );
  }

  const navItems = navigationItems(roles.isAdmin, showMyToken);

  const activeHref = href(route === ROUTES.createToken ? ROUTES.tokens : route);
  const notifications: FlashbarProps.MessageDefinition[] = expired
    ? [
        {
          id: "session-expired",
          type: "warning",
          content: SESSION_EXPIRED,
          action: <Button onClick={signIn}>Sign in</Button>,
        },
        ...flashes,
      ]
    : flashes;

  const userMenuItems = [
    ...(showMyToken ? [{ id: "my-token", text: "My API Token", href: href(ROUTES.myToken) }] : []),
    { id: "signout", text: "Sign out" },
  ];

  return (
    <SessionContext.Provider value={session}>
      <div id="top-nav" style={{ position: "sticky", top: 0, zIndex: 1002 }}>
        <TopNavigation
          identity={{ href: href(ROUTES.home), title: APP_TITLE }}
          utilities={[
            {
              type: "menu-dropdown",
              text: username || "Account",
              description: typeof claims.email === "string" ? claims.email : undefined,
              iconName: "user-profile",
              ariaLabel: `User menu ${username}`,
              items: userMenuItems,
              onItemClick: ({ detail }) => {
                // "Sign out" has no href, so there is no navigation to prevent.
                if (detail.id === "signout") void signOut();
              },
            },
          ]}
        />
      </div>
      <AppLayout
        headerSelector="#top-nav"
        navigation={<SideNavigation header={{ text: APP_TITLE, href: href(ROUTES.home) }} activeHref={activeHref} items={navItems} />}
        notifications={<Flashbar items={notifications} />}
        toolsHide
        content={<Suspense fallback={<Spinner size="large" />}>{content}</Suspense>}
        ariaLabels={{ navigation: "Side navigation", navigationClose: "Close side navigation", navigationToggle: "Open side navigation", notifications: "Notifications" }}
      />
      <TokenDisplayModal created={created} onClose={() => setCreated(null)} />
    </SessionContext.Provider>
  );
}
