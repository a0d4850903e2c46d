import { useId, type TextareaHTMLAttributes } from 'react';
import { ApiError } from '../../../api/problem.ts';
import { CopyButton } from '../../../components/copy-button.tsx';

/** `GET /v1/sso/oidc` and `/v1/sso/saml` answer 404 with this code while nothing is set up. */
const NOT_CONFIGURED = 'SP_ERR_SSO_NOT_CONFIGURED';

/** A setting, or null when the tenant has none (any other refusal is thrown on). */
export async function settingOrNone<T>(load: Promise<T>): Promise<T | null> {
  try {
    return await load;
  } catch (err) {
    if (err instanceof ApiError && err.code === NOT_CONFIGURED) return null;
    throw err;
  }
}

/** "mfa  hwk, otp" → ['mfa', 'hwk', 'otp']: the list fields take values separated by spaces or commas. */
export function listOf(text: string): string[] {
  return text.split(/[\s,]+/).filter((v) => v !== '');
}

export const when = (t: string | null): string => (t ? new Date(t).toLocaleString() : '—');

/** A value the operator gives their IdP or DNS: shown as text (select it) with a copy button. */
export function CopyFact({ term, value, copyLabel }: { readonly term: string; readonly value: string; readonly copyLabel: string }) {
  return (
    <div className="fact">
      <dt>{term}</dt>
      <dd>
        <code className="break">{value}</code> <CopyButton text={value} label={copyLabel} />
      </dd>
    </div>
  );
}

interface TextAreaFieldProps extends Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'id'> {
  readonly label: string;
  readonly hint?: string;
}

/** A textarea with its visible label and hint tied to it (as `Field` does for inputs). */
export function TextAreaField({ label, hint, ...textarea }: TextAreaFieldProps) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...textarea} />
      {hint ? (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      ) : null}
    </div>
  );
}
