import type { AuditRecorder } from '../audit/audit-recorder.js';
import { SsoConfigRepository } from '../identity/sso/sso-config.repository.js';
import { SsoConfigService } from '../identity/sso/sso-config.service.js';
import { SsoDomainRepository } from '../identity/sso/sso-domain.repository.js';
import type { TxtResolver } from '../identity/sso/sso-domain.js';
import { SsoLoginStateRepository } from '../identity/sso/sso-login-state.repository.js';
import { guardedIdpFetch } from '../identity/sso/idp-fetch.js';
import { OidcLoginService } from '../identity/sso/oidc-login.service.js';
import { SamlLoginService } from '../identity/sso/saml-login.service.js';
import { SsoLoginAudit } from '../identity/sso/sso-login.audit.js';
import type { SsoSignIn } from '../identity/sso/sso-sign-in.port.js';
import type { AppContext } from './app-context.js';

/** Per-tenant SSO, built once (src/identity/sso/). */
export interface SsoServices {
  readonly config: SsoConfigService;
  readonly loginStates: SsoLoginStateRepository;
  readonly oidc: OidcLoginService;
  readonly saml: SamlLoginService;
  readonly loginAudit: SsoLoginAudit;
  /** What a verified login leads to: an operator session (identity/sessions/sso-sign-in.ts). */
  readonly signIn: SsoSignIn;
  /** Closes the connections to IdPs. */
  close(): Promise<void>;
}

export function createSsoServices(
  context: AppContext,
  options: {
    readonly publicUrl: string;
    readonly audit: AuditRecorder;
    readonly loginAudit: AuditRecorder;
    readonly signIn: SsoSignIn;
    readonly resolveTxt?: TxtResolver;
    readonly allowHttpIdp?: boolean;
  },
): SsoServices {
  const { db } = context.database;
  const config = new SsoConfigService(new SsoConfigRepository(db, context.cipher), new SsoDomainRepository(db), {
    audit: options.audit,
    publicUrl: options.publicUrl,
    ...(options.resolveTxt ? { resolveTxt: options.resolveTxt } : {}),
    ...(options.allowHttpIdp ? { allowHttpIdp: true } : {}),
  });
  const loginStates = new SsoLoginStateRepository(db, context.cipher);
  const idp = guardedIdpFetch(context.config.ssoAllowPrivateIdp);
  const oidc = new OidcLoginService(config, loginStates, { fetch: idp.fetch, ...(options.allowHttpIdp ? { allowHttpIdp: true } : {}) });
  return {
    config,
    loginStates,
    oidc,
    saml: new SamlLoginService(config, loginStates),
    loginAudit: new SsoLoginAudit((write) => context.committer.run(write), options.loginAudit),
    signIn: options.signIn,
    close: () => idp.close(),
  };
}
