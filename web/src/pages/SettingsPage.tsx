// Settings (admins): whether users may manage their own API tokens.
import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import Toggle from "@cloudscape-design/components/toggle";
import { errorMessage } from "../lib/api";
import { useSession } from "../session";

export default function SettingsPage() {
  const { api, settings, setAllowUserManagedTokens, notify } = useSession();
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string>();

  const change = async (value: boolean) => {
    setSaving(true);
    setError(undefined);
    try {
      const res = await api.putSettings({ allowUserManagedTokens: value });
      setAllowUserManagedTokens(typeof res?.allowUserManagedTokens === "boolean" ? res.allowUserManagedTokens : value);
      notify({
        type: "success",
        content: value ? "Settings saved: users may manage their own API tokens." : "Settings saved: only administrators create API tokens.",
        dismissible: true,
      });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <SpaceBetween size="m">
      <Header variant="h1">Settings</Header>
      {settings.error && (
        <Alert type="error" header="The settings could not be loaded">
          {settings.error}
        </Alert>
      )}
      {error && (
        <Alert type="error" header="The settings were not saved">
          {error}
        </Alert>
      )}
      <Container header={<Header variant="h2">API tokens</Header>}>
        {settings.loading ? (
          <Spinner />
        ) : (
          <FormField description="When on, members of the API group create and delete their own token on My API Token. When off, only administrators create tokens.">
            <Toggle
              checked={settings.allowUserManagedTokens ?? false}
              disabled={saving || settings.allowUserManagedTokens === undefined}
              onChange={({ detail }) => void change(detail.checked)}
            >
              Allow user managed API tokens
            </Toggle>
          </FormField>
        )}
      </Container>
    </SpaceBetween>
  );
}
