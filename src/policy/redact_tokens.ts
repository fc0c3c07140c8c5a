/**
 * Redaction layer 7 (SECURITY.md §RED RED-29): known token shapes, always,
 * in every format, on comment lines too and with entropy detection off.
 * Each hit is a `key_match` record whose key names the shape.
 *
 * Stripe publishable keys (`pk_live_`, `pk_test_`) are public by design and
 * are not a shape here (a secret key name still redacts them).
 *
 * @module
 */

import type { Redactor } from "./redact_engine.ts";

/** One token shape: its record key, a cheap literal pre-check and the pattern. */
interface Shape {
  key: string;
  hint: string | RegExp;
  re: RegExp;
  /** redact only this group (1-based); default: the whole match */
  group?: number;
  /** extra test on the match (e.g. a mix of character classes) */
  test?: (s: string) => boolean;
}

const mixed = (s: string) => /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s);

/** The shapes, most specific first. */
export const TOKEN_SHAPES: readonly Shape[] = [
  { key: "github_token", hint: /gh[pousr]_/, re: /\bgh[pousr]_[A-Za-z0-9]{36,255}\b/g },
  { key: "github_token", hint: "github_pat_", re: /\bgithub_pat_[A-Za-z0-9_]{22,255}/g },
  {
    key: "gitlab_token",
    hint: "gl",
    re: /\bgl(?:pat|dt|rt|cbt|ptt|ft|imt|agent|oas|soat|ffct)-[A-Za-z0-9_\-]{20,}/g,
  },
  { key: "gitlab_token", hint: "GR1348941", re: /\bGR1348941[A-Za-z0-9_\-]{20,}/g },
  { key: "slack_token", hint: "xox", re: /\bxox[abposer]-[A-Za-z0-9\-]{10,}/g },
  { key: "slack_token", hint: "xapp-", re: /\bxapp-\d-[A-Za-z0-9\-]{10,}/g },
  {
    key: "slack_webhook",
    hint: "hooks.slack.com",
    re: /hooks\.slack\.com\/(?:services|workflows|triggers)\/([A-Za-z0-9\/_\-]+)/g,
    group: 1,
  },
  {
    key: "discord_webhook",
    hint: "/api/webhooks/",
    re: /discord(?:app)?\.com\/api\/webhooks\/([0-9]+\/[A-Za-z0-9_\-]+)/g,
    group: 1,
  },
  { key: "stripe_key", hint: "_live_", re: /\b(?:sk|rk)_live_[A-Za-z0-9]{10,}/g },
  { key: "stripe_key", hint: "_test_", re: /\b(?:sk|rk)_test_[A-Za-z0-9]{10,}/g },
  { key: "stripe_webhook_secret", hint: "whsec_", re: /\bwhsec_[A-Za-z0-9+\/]{20,}/g },
  { key: "anthropic_key", hint: "sk-ant-", re: /\bsk-ant-[a-z]+\d{2}-[A-Za-z0-9_\-]{20,}/g },
  {
    key: "openai_key",
    hint: "sk-",
    re: /\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,}/g,
  },
  { key: "openai_key", hint: "sk-", re: /\bsk-[A-Za-z0-9]{20,}\b/g, test: mixed },
  { key: "google_api_key", hint: "AIza", re: /\bAIza[0-9A-Za-z_\-]{35}/g },
  { key: "google_oauth_secret", hint: "GOCSPX-", re: /\bGOCSPX-[A-Za-z0-9_\-]{20,}/g },
  { key: "google_oauth_token", hint: "ya29.", re: /\bya29\.[0-9A-Za-z_\-]{20,}/g },
  { key: "google_refresh_token", hint: "1//0", re: /\b1\/\/0[0-9A-Za-z_\-]{30,}/g },
  {
    key: "aws_access_key_id",
    hint: /A[KSBCGIKNPR][A-Z]A/,
    re: /\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}\b/g,
  },
  {
    key: "aws_secret_access_key",
    hint: /[A-Za-z0-9\/+]{40}/,
    re: /(?<![A-Za-z0-9\/+=_\-])[A-Za-z0-9\/+]{40}(?![A-Za-z0-9\/+=_\-])/g,
    test: mixed,
  },
  {
    key: "jwt",
    hint: "ey",
    re: /\bey[A-Za-z0-9_\-]{8,}\.ey[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*/g,
  },
  { key: "npm_token", hint: "npm_", re: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { key: "pypi_token", hint: "pypi-", re: /\bpypi-AgE[A-Za-z0-9_\-]{40,}/g },
  {
    key: "sendgrid_key",
    hint: "SG.",
    re: /\bSG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}/g,
  },
  { key: "twilio_key", hint: "SK", re: /\bSK[0-9a-fA-F]{32}\b/g },
  { key: "mailgun_key", hint: "key-", re: /\bkey-[0-9a-f]{32}\b/g },
  { key: "digitalocean_token", hint: "_v1_", re: /\bdo[por]_v1_[a-f0-9]{64}\b/g },
  { key: "shopify_token", hint: "shp", re: /\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b/g },
  { key: "vault_token", hint: /hv[sbr]\./, re: /\bhv[sbr]\.[A-Za-z0-9_\-]{24,}/g },
  { key: "sonar_token", hint: /sq[upa]_/, re: /\bsq[upa]_[a-f0-9]{40}\b/g },
  { key: "docker_pat", hint: "dckr_pat_", re: /\bdckr_pat_[A-Za-z0-9_\-]{20,}/g },
  { key: "nuget_key", hint: "oy2", re: /\boy2[a-z0-9]{43}\b/g },
  { key: "huggingface_token", hint: "hf_", re: /\bhf_[A-Za-z0-9]{34,}\b/g },
  { key: "databricks_token", hint: "dapi", re: /\bdapi[a-f0-9]{32}\b/g },
  {
    key: "password_hash",
    hint: "$",
    re:
      /\$(?:1|2[abxy]?|5|6|7|y|gy|apr1|md5|sha1|argon2(?:id|i|d)|pbkdf2(?:-sha\d+)?|scrypt)\$[A-Za-z0-9.\/$=,+\-]{8,}/g,
  },
  {
    key: "password_hash",
    hint: "{",
    re:
      /\{(?:SSHA|SHA|SSHA256|SSHA512|SHA256|SHA512|SMD5|MD5|CRYPT|PBKDF2[\w\-]*|ARGON2)\}[A-Za-z0-9+\/=.$\-]{8,}/g,
  },
];

/** Layer 7: every known token shape, anywhere in the text. */
export function redactTokens(r: Redactor): void {
  const t = r.text;
  for (const sh of TOKEN_SHAPES) {
    if (typeof sh.hint === "string" ? !t.includes(sh.hint) : !sh.hint.test(t)) continue;
    sh.re.lastIndex = 0;
    for (const m of t.matchAll(sh.re)) {
      const v = sh.group ? m[sh.group]! : m[0];
      if (sh.test && !sh.test(v)) continue;
      const s = m.index! + (sh.group ? m[0].indexOf(v) : 0);
      r.secret(s, s + v.length, { kind: "key_match", key: sh.key });
    }
  }
}
