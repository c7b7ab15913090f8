// The six limit inputs of the create and edit forms, each optional and with
// its unit; an empty field leaves that limit to the deployment's defaults.
import ColumnLayout from "@cloudscape-design/components/column-layout";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import { formatLimitValue, LIMIT_FIELDS, type LimitErrors, type LimitKey, type Limits, type LimitValues } from "../lib/limits";

export interface LimitsFieldsProps {
  values: LimitValues;
  onChange: (key: LimitKey, value: string) => void;
  errors?: LimitErrors;
  /** The limits in force now, shown as a hint under the empty fields. */
  effective?: Limits;
  disabled?: boolean;
}

export default function LimitsFields({ values, onChange, errors = {}, effective, disabled }: LimitsFieldsProps) {
  return (
    <ColumnLayout columns={3}>
      {LIMIT_FIELDS.map((f) => {
        const cur = effective?.[f.key];
        const hint = typeof cur === "number" ? `Now ${formatLimitValue(f, cur)}` : effective ? "Now no limit" : undefined;
        return (
          <FormField
            key={f.key}
            label={f.label}
            description={f.unit}
            constraintText={hint}
            errorText={errors[f.key]}
          >
            <Input
              value={values[f.key]}
              onChange={({ detail }) => onChange(f.key, detail.value)}
              inputMode={f.integer ? "numeric" : "decimal"}
              placeholder="Default"
              autoComplete={false}
              disabled={disabled}
            />
          </FormField>
        );
      })}
    </ColumnLayout>
  );
}
