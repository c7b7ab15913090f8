// A token's effective limits as a short list, each marked when it is the
// token's own rather than a default. An older API reports none: "-".
import Box from "@cloudscape-design/components/box";
import { formatLimit, LIMIT_FIELDS, type Limits } from "../lib/limits";

export interface LimitsViewProps {
  effective?: Limits;
  own?: Limits;
}

export default function LimitsView({ effective, own }: LimitsViewProps) {
  if (effective === undefined) return <>-</>;
  const set = LIMIT_FIELDS.filter((f) => typeof effective[f.key] === "number");
  if (set.length === 0) return <>No limits</>;
  return (
    <ul style={{ margin: 0, paddingInlineStart: 16 }} aria-label="Effective limits">
      {set.map((f) => (
        <li key={f.key}>
          {formatLimit(f, effective[f.key]!)}
          {typeof own?.[f.key] === "number" && own[f.key] === effective[f.key] ? (
            <Box variant="span" color="text-body-secondary">
              {" "}
              (this token)
            </Box>
          ) : null}
        </li>
      ))}
    </ul>
  );
}
