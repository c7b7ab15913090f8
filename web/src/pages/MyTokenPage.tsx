// My API Token: the caller's own token, created and deleted by themself.
import { useCallback, useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import DeleteTokenModal from "../components/DeleteTokenModal";
import LimitsView from "../components/LimitsView";
import TokenUsagePanel from "../components/TokenUsagePanel";
import { actionDisabledReason, actionToken, useTokenActions, type TokenAction } from "../components/TokenActions";
import ExpirationField, { expirationProblem, normalizeDate } from "../components/ExpirationField";
import { errorMessage } from "../lib/api";
import { defaultExpirationDate, endOfDayUnix, formatWithZone } from "../lib/dates";
import { fieldForMessage, type FieldKey } from "../lib/errors";
import { ownToken, tokenStatus, type CreatedToken, type TokenItem } from "../lib/tokens";
import { useSession } from "../session";
import { createdToItem } from "../tokenStore";
import { nameProblem } from "./CreateTokenWizard";
import { LastUsed, TokenStatusIndicator } from "./TokensPage";

/** The buttons for the user's own token, each with why it is unavailable. */
function ownActions(token: TokenItem): { id: TokenAction; text: string; reason?: string }[] {
  const t = actionToken(token);
  const toggle: TokenAction = t.status === "Disabled" ? "enable" : "disable";
  return [
    { id: "history", text: "History" },
    { id: "edit", text: "Edit" },
    { id: toggle, text: toggle === "enable" ? "Enable" : "Disable" },
    { id: "rotate", text: "Rotate" },
  ].map((a) => ({ ...a, id: a.id as TokenAction, reason: actionDisabledReason(a.id as TokenAction, t) }));
}

export interface MyTokenPageProps {
  /** Tells the admin token list about a token made or deleted here. */
  onCreated?: (c: CreatedToken) => void;
  onDeleted?: (tokenUUID: string) => void;
  /** Tells the admin token list that a token changed here. */
  onChanged?: () => void;
}

export default function MyTokenPage({ onCreated, onDeleted, onChanged }: MyTokenPageProps) {
  const { api, config, roles, username, timeZone, settings, showCreated, notify } = useSession();
  const allowed = roles.isAdmin || (roles.isApiUser && settings.allowUserManagedTokens !== false);
  const [loading, setLoading] = useState(true);
  const [loadError, setLoadError] = useState<string>();
  const [token, setToken] = useState<TokenItem>();
  const [name, setName] = useState("");
  const [date, setDate] = useState(() => defaultExpirationDate(timeZone));
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<FieldKey, string>>>({});
  const [createError, setCreateError] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);

  const load = useCallback(async () => {
    setLoading(true);
    setLoadError(undefined);
    try {
      // Non-admins list only their own tokens; admins ask for theirs.
      const items = await api.listAll({ username: roles.isAdmin ? username : undefined });
      setToken(ownToken(items, roles.isAdmin ? username : undefined));
    } catch (err) {
      setLoadError(errorMessage(err));
    } finally {
      setLoading(false);
    }
  }, [api, roles.isAdmin, username]);

  useEffect(() => {
    if (allowed) void load();
  }, [load, allowed]);

  // After a change, show the token as the API has it now (after a rotation: the new one).
  const reload = useCallback(() => {
    void load();
    onChanged?.();
  }, [load, onChanged]);
  const tokenActions = useTokenActions(reload);
  const loadUsage = useCallback((uuid: string, range: { from: string; to: string }) => api.tokenUsage(uuid, range), [api]);

  if (!roles.isApiUser) {
    return (
      <Alert type="info" header="No API access">
        You are not a member of the API group <b>{config.apiGroup || "(not configured)"}</b>. Ask an administrator for access.
      </Alert>
    );
  }
  if (!allowed) {
    return (
      <Alert type="info" header="User managed API tokens are turned off">
        An administrator has turned off user managed API tokens. Ask an administrator for a token.
      </Alert>
    );
  }

  const create = async () => {
    const errs = { name: nameProblem(name), expiration: expirationProblem(date, timeZone) };
    setFieldErrors(errs);
    if (errs.name || errs.expiration) return;
    setCreating(true);
    setCreateError(undefined);
    try {
      const created = await api.createOwn({ name: name.trim(), tokenExpiration: endOfDayUnix(normalizeDate(date), timeZone) });
      setToken(createdToItem(created));
      setName("");
      showCreated(created);
      onCreated?.(created);
    } catch (err) {
      const msg = errorMessage(err);
      setCreateError(msg);
      const f = fieldForMessage(msg);
      if (f) setFieldErrors({ [f]: msg });
    } finally {
      setCreating(false);
    }
  };

  let body: React.ReactNode;
  if (loading) {
    body = (
      <Container header={<Header variant="h2">Your token</Header>}>
        <Box>
          <Spinner /> Loading your token…
        </Box>
      </Container>
    );
  } else if (loadError) {
    body = (
      <Alert type="error" header="Your token could not be loaded" action={<Button onClick={load}>Retry</Button>}>
        {loadError}
      </Alert>
    );
  } else if (token) {
    body = (
      <SpaceBetween size="m">
        <Container
          header={
            <Header
              variant="h2"
              actions={
                <SpaceBetween direction="horizontal" size="xs">
                  {ownActions(token).map(({ id, text, reason }) => (
                    <Button key={id} disabled={Boolean(reason)} disabledReason={reason} onClick={() => tokenActions.run(id, actionToken(token))}>
                      {text}
                    </Button>
                  ))}
                  <Button onClick={() => setConfirmDelete(true)}>Delete</Button>
                </SpaceBetween>
              }
            >
              Your token
            </Header>
          }
        >
          <KeyValuePairs
            columns={3}
            items={[
              { label: "Token name", value: token.name || "-" },
              { label: "Status", value: <TokenStatusIndicator status={tokenStatus(token)} /> },
              { label: "Created", value: formatWithZone(token.createdDate, timeZone) },
              { label: "Expires", value: formatWithZone(token.tokenExpiration, timeZone) },
              { label: "Last used", value: <LastUsed at={token.lastUsedAt} timeZone={timeZone} /> },
              { label: "Groups", value: token.groups.join(", ") || "None" },
              { label: "Token UUID", value: <Box variant="code">{token.tokenUUID}</Box> },
              // Older servers report no limits: the item is left out.
              ...(token.effectiveLimits !== undefined ? [{ label: "Limits", value: <LimitsView effective={token.effectiveLimits} own={token.limits} /> }] : []),
            ]}
          />
        </Container>
        <Container header={<Header variant="h2" description="Calls made with your token, per UTC day.">Usage</Header>}>
          <TokenUsagePanel key={token.tokenUUID} tokenUUID={token.tokenUUID} subject="your token" load={loadUsage} />
        </Container>
      </SpaceBetween>
    );
  } else {
    body = (
      <form onSubmit={(e) => e.preventDefault()}>
        <Form
          errorText={createError}
          actions={
            <Button variant="primary" onClick={create} loading={creating}>
              Create token
            </Button>
          }
        >
          <Container header={<Header variant="h2" description="You have no API token yet.">Create your token</Header>}>
            <SpaceBetween size="l">
              <Box variant="p">
                The token takes your current groups ({roles.groups.join(", ") || "none"}); they stay fixed on the token from then on.
              </Box>
              <FormField label="Token name" description="Up to 128 characters, e.g. My VSCode Token." errorText={fieldErrors.name}>
                <Input
                  value={name}
                  onChange={({ detail }) => {
                    setName(detail.value);
                    setFieldErrors((e) => ({ ...e, name: undefined }));
                  }}
                />
              </FormField>
              <ExpirationField
                value={date}
                onChange={(v) => {
                  setDate(v);
                  setFieldErrors((e) => ({ ...e, expiration: undefined }));
                }}
                timeZone={timeZone}
                errorText={fieldErrors.expiration}
              />
            </SpaceBetween>
          </Container>
        </Form>
      </form>
    );
  }

  return (
    <SpaceBetween size="m">
      <Header variant="h1" description="The API token you use yourself, e.g. in your IDE.">
        My API Token
      </Header>
      {body}
      {tokenActions.dialogs}
      <DeleteTokenModal
        revocationSeconds={config.revocationSeconds}
        token={confirmDelete && token ? token : null}
        onCancel={() => setConfirmDelete(false)}
        onDelete={async (uuid) => {
          await api.deleteToken(uuid);
          setConfirmDelete(false);
          setToken(undefined);
          onDeleted?.(uuid);
          notify({ type: "success", content: "Your token was deleted.", dismissible: true });
        }}
      />
    </SpaceBetween>
  );
}
