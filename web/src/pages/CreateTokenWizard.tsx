// Create token (admins): a wizard for a token for any user. API errors are
// shown in the wizard and on the field they name.
import { useMemo, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Toggle from "@cloudscape-design/components/toggle";
import Wizard from "@cloudscape-design/components/wizard";
import LimitsFields from "../components/LimitsFields";
import ExpirationField, { expirationProblem, normalizeDate } from "../components/ExpirationField";
import { errorMessage, type AdminCreateRequest } from "../lib/api";
import { defaultExpirationDate, endOfDayUnix, formatWithZone, parseDate } from "../lib/dates";
import { fieldForMessage, type FieldKey } from "../lib/errors";
import {
  EMPTY_LIMIT_VALUES,
  hasProblems,
  isLimitsMessage,
  limitFieldForMessage,
  limitLines,
  limitsFromValues,
  limitsProblems,
  type LimitErrors,
  type LimitValues,
} from "../lib/limits";
import type { CreatedToken } from "../lib/tokens";
import { nameProblem } from "../lib/validation";

/** Splits the comma-separated Groups field into names (trimmed, empty ones and repeats dropped). */
export function parseGroups(text: string): string[] {
  const out: string[] = [];
  for (const g of text.split(",").map((s) => s.trim())) if (g && !out.includes(g)) out.push(g);
  return out;
}

export function usernameProblem(u: string): string | undefined {
  if (!u.trim()) return "Enter the username the token is for.";
  if (/[\s/]/.test(u.trim())) return "A username has no whitespace or '/'.";
  if (u.trim().length > 128) return "A username has at most 128 characters.";
  return undefined;
}

export { nameProblem };

/** The step each field is on. */
const STEP_OF: Record<FieldKey, number> = { username: 0, name: 0, groups: 1, expiration: 1 };

export interface CreateTokenWizardProps {
  timeZone: string;
  create: (username: string, req: AdminCreateRequest) => Promise<CreatedToken>;
  onCreated: (created: CreatedToken) => void;
  onCancel: () => void;
}

export default function CreateTokenWizard({ timeZone, create, onCreated, onCancel }: CreateTokenWizardProps) {
  const [step, setStep] = useState(0);
  const [username, setUsername] = useState("");
  const [name, setName] = useState("");
  const [isSystemToken, setIsSystemToken] = useState(false);
  const [groups, setGroups] = useState("");
  const [date, setDate] = useState(() => defaultExpirationDate(timeZone));
  const [limitValues, setLimitValues] = useState<LimitValues>(EMPTY_LIMIT_VALUES);
  const [limitErrors, setLimitErrors] = useState<LimitErrors>({});
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<FieldKey, string>>>({});
  const [apiError, setApiError] = useState<string>();
  const [submitting, setSubmitting] = useState(false);

  const expiresAt = useMemo(() => {
    const d = normalizeDate(date);
    return parseDate(d) ? endOfDayUnix(d, timeZone) : undefined;
  }, [date, timeZone]);

  const clear = (k: FieldKey) => setFieldErrors((e) => (e[k] ? { ...e, [k]: undefined } : e));

  /** Checks the steps before target; returns the first step with a problem, or -1. */
  const validateUpTo = (target: number): number => {
    const errs: Partial<Record<FieldKey, string>> = {};
    if (target > 0) {
      errs.username = usernameProblem(username);
      errs.name = nameProblem(name);
    }
    let lErrs: LimitErrors = {};
    if (target > 1) {
      errs.expiration = expirationProblem(date, timeZone);
      lErrs = limitsProblems(limitValues);
    }
    setFieldErrors(errs);
    setLimitErrors(lErrs);
    const bad = (Object.keys(errs) as FieldKey[]).filter((k) => errs[k]).map((k) => STEP_OF[k]);
    if (hasProblems(lErrs)) bad.push(1);
    return bad.length ? Math.min(...bad) : -1;
  };

  const submit = async () => {
    const bad = validateUpTo(2);
    if (bad >= 0) {
      setStep(bad);
      return;
    }
    setSubmitting(true);
    setApiError(undefined);
    try {
      const req: AdminCreateRequest = {
        name: name.trim(),
        groups: parseGroups(groups),
        isSystemToken,
        tokenExpiration: expiresAt!,
      };
      // Left out when empty, so a gateway without limits takes the request as before.
      const limits = limitsFromValues(limitValues);
      if (limits) req.limits = limits;
      const created = await create(username.trim(), req);
      onCreated(created);
    } catch (err) {
      const msg = errorMessage(err);
      setApiError(msg);
      const field = fieldForMessage(msg);
      const code = (err as { code?: string }).code;
      const limitField = limitFieldForMessage(msg);
      if (limitField) {
        setLimitErrors({ [limitField]: msg });
        setStep(1);
      } else if (field) {
        setFieldErrors({ [field]: msg });
        setStep(STEP_OF[field]);
      } else if (limitsFromValues(limitValues) && isLimitsMessage(msg, code)) {
        setStep(1);
      }
    } finally {
      setSubmitting(false);
    }
  };

  const alert = apiError && (
    <Alert type="error" header="The token was not created">
      {apiError}
    </Alert>
  );

  return (
    <Wizard
      activeStepIndex={step}
      onNavigate={({ detail }) => {
        const target = detail.requestedStepIndex;
        if (target > step) {
          const bad = validateUpTo(target);
          if (bad >= 0 && bad < target) {
            setStep(bad);
            return;
          }
        }
        setStep(target);
      }}
      onCancel={onCancel}
      onSubmit={submit}
      isLoadingNextStep={submitting}
      submitButtonText="Create"
      i18nStrings={{
        stepNumberLabel: (n) => `Step ${n}`,
        collapsedStepsLabel: (n, total) => `Step ${n} of ${total}`,
        navigationAriaLabel: "Steps",
        cancelButton: "Cancel",
        previousButton: "Previous",
        nextButton: "Next",
        optional: "optional",
      }}
      steps={[
        {
          title: "Basic information",
          description: "Who the token is for and what it is called.",
          content: (
            <SpaceBetween size="m">
              {alert}
              <Container header={<Header variant="h2">Token</Header>}>
                <SpaceBetween size="l">
                  <FormField label="Username" description="The user the token is for." errorText={fieldErrors.username}>
                    <Input
                      value={username}
                      onChange={({ detail }) => {
                        setUsername(detail.value);
                        clear("username");
                      }}
                      autoComplete={false}
                      spellcheck={false}
                    />
                  </FormField>
                  <FormField label="Token name" description="Up to 128 characters, e.g. CI/CD Pipeline Token." errorText={fieldErrors.name}>
                    <Input
                      value={name}
                      onChange={({ detail }) => {
                        setName(detail.value);
                        clear("name");
                      }}
                      autoComplete={false}
                    />
                  </FormField>
                  <FormField description="A system token is for a service: it does not count toward the user's one token and cannot create user tokens.">
                    <Toggle checked={isSystemToken} onChange={({ detail }) => setIsSystemToken(detail.checked)}>
                      System token
                    </Toggle>
                  </FormField>
                </SpaceBetween>
              </Container>
            </SpaceBetween>
          ),
        },
        {
          title: "Permissions",
          description: "What the token may do, for how long, and how much.",
          content: (
            <SpaceBetween size="m">
              {alert}
              <Container header={<Header variant="h2">Permissions</Header>}>
                <SpaceBetween size="l">
                  <FormField
                    label="Groups"
                    description="Comma-separated group names, e.g. developers, lisa-api-users. They are fixed from then on."
                    errorText={fieldErrors.groups}
                  >
                    <Input
                      value={groups}
                      onChange={({ detail }) => {
                        setGroups(detail.value);
                        clear("groups");
                      }}
                      autoComplete={false}
                    />
                  </FormField>
                  <ExpirationField
                    value={date}
                    onChange={(v) => {
                      setDate(v);
                      clear("expiration");
                    }}
                    timeZone={timeZone}
                    errorText={fieldErrors.expiration}
                  />
                </SpaceBetween>
              </Container>
              <Container
                header={
                  <Header variant="h2" description="Optional. An empty field uses the deployment's defaults for the token's groups.">
                    Limits
                  </Header>
                }
              >
                <LimitsFields
                  values={limitValues}
                  errors={limitErrors}
                  onChange={(k, v) => {
                    setLimitValues((vs) => ({ ...vs, [k]: v }));
                    setLimitErrors((es) => ({ ...es, [k]: undefined }));
                  }}
                />
              </Container>
            </SpaceBetween>
          ),
        },
        {
          title: "Review",
          content: (
            <SpaceBetween size="m">
              {alert}
              <Container header={<Header variant="h2">Review</Header>}>
                <KeyValuePairs
                  columns={2}
                  items={[
                    { label: "Username", value: username.trim() || "-" },
                    { label: "Token name", value: name.trim() || "-" },
                    { label: "System token", value: isSystemToken ? "Yes" : "No" },
                    { label: "Groups", value: parseGroups(groups).join(", ") || "None" },
                    { label: "Expires", value: expiresAt ? formatWithZone(expiresAt, timeZone) : "-" },
                    {
                      label: "Limits",
                      value: limitLines(hasProblems(limitsProblems(limitValues)) ? undefined : limitsFromValues(limitValues)).join(", ") || "The deployment's defaults",
                    },
                  ]}
                />
              </Container>
            </SpaceBetween>
          ),
        },
      ]}
    />
  );
}
