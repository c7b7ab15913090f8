// Entry point: read /config.json, set up the OIDC client, render the console.
import "@cloudscape-design/global-styles/index.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { AuthProvider } from "react-oidc-context";
import { UserManager, WebStorageStateStore } from "oidc-client-ts";
import { I18nProvider } from "@cloudscape-design/components/i18n";
import enMessages from "@cloudscape-design/components/i18n/messages/all.en";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import App from "./App";
import { userManagerSettings } from "./lib/auth";
import { loadConfig } from "./lib/config";

async function start() {
  const root = createRoot(document.getElementById("root")!);
  let config;
  try {
    config = await loadConfig();
  } catch (err) {
    root.render(
      <I18nProvider locale="en" messages={[enMessages]}>
        <Box padding="xxl">
          <Alert type="error" header="The console cannot start">
            {err instanceof Error ? err.message : String(err)}
          </Alert>
        </Box>
      </I18nProvider>,
    );
    return;
  }
  const userManager = new UserManager({
    ...userManagerSettings(config, window.location.origin),
    // The session lives in this tab only.
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
  });
  root.render(
    <StrictMode>
      <I18nProvider locale="en" messages={[enMessages]}>
        <AuthProvider
          userManager={userManager}
          onSigninCallback={(user) => {
            // Drop ?code=&state= from the address, and return to the page the user started on.
            const state = user?.url_state;
            window.history.replaceState(null, "", "/" + (state && state.startsWith("#") ? state : ""));
            window.dispatchEvent(new HashChangeEvent("hashchange"));
          }}
        >
          <App config={config} userManager={userManager} />
        </AuthProvider>
      </I18nProvider>
    </StrictMode>,
  );
}

void start();
