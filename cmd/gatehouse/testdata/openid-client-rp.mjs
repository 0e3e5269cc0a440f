// A relying party built on the npm package openid-client, driven by the Go test
// TestProviderOpenIDClient: it reads one JSON command a line on stdin and answers one JSON
// line on stdout. Every OpenID Connect step is openid-client's own call; the test only plays
// the browser (sign-in and consent) and tampers with what the browser carries.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const configs = new Map(); // name -> client.Configuration

// fail describes an error openid-client threw: its class, code and message, the message of its
// cause (oauth4webapi's, which says what exactly was wrong), and for an error answer of the
// server its error and error_description.
const fail = (e) => ({ ok: false, name: e.name, code: e.code, message: e.message, cause: e.cause?.message ?? '',
  error: e.error ?? '', description: e.error_description ?? '' });

const commands = {
  // discover runs discovery for a client: public (token endpoint auth "none") or confidential
  // (client_secret_basic). The test server is plain http on 127.0.0.1.
  async discover({ name, issuer, client_id, client_secret, id_token_alg }) {
    const metadata = {};
    if (id_token_alg) metadata.id_token_signed_response_alg = id_token_alg;
    const auth = client_secret ? client.ClientSecretBasic(client_secret) : client.None();
    const config = await client.discovery(new URL(issuer), client_id, metadata, auth,
      { execute: [client.allowInsecureRequests] });
    configs.set(name, config);
    const m = config.serverMetadata();
    return { issuer: m.issuer, iss_parameter: m.authorization_response_iss_parameter_supported === true,
      end_session_endpoint: m.end_session_endpoint, supportsPKCE: config.serverMetadata().supportsPKCE() };
  },
  // authorize builds an authorization URL with PKCE S256, a random state and (unless
  // nonce is false) a random nonce, and returns the values the callback must be checked with.
  async authorize({ name, redirect_uri, scope, nonce = true }) {
    const config = configs.get(name);
    const verifier = client.randomPKCECodeVerifier();
    const params = { redirect_uri, scope, state: client.randomState(),
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' };
    if (nonce) params.nonce = client.randomNonce();
    return { url: client.buildAuthorizationUrl(config, params).href, state: params.state, nonce: params.nonce ?? '', verifier };
  },
  // callback completes the flow from the URL the browser landed on: openid-client checks iss,
  // state, exchanges the code with the verifier and validates the ID token (signature, iss,
  // aud, exp, nonce).
  async callback({ name, url, verifier, state, nonce }) {
    const checks = { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true };
    if (nonce) checks.expectedNonce = nonce;
    const tokens = await client.authorizationCodeGrant(configs.get(name), new URL(url), checks);
    return tokenResult(tokens);
  },
  async refresh({ name, refresh_token }) {
    return tokenResult(await client.refreshTokenGrant(configs.get(name), refresh_token));
  },
  async userinfo({ name, access_token, sub }) {
    return { userinfo: await client.fetchUserInfo(configs.get(name), access_token, sub) };
  },
  async endsession({ name, id_token_hint, post_logout_redirect_uri, state }) {
    const url = client.buildEndSessionUrl(configs.get(name), { id_token_hint, post_logout_redirect_uri, state });
    return { url: url.href };
  },
};

function tokenResult(tokens) {
  return { access_token: tokens.access_token, refresh_token: tokens.refresh_token ?? '', id_token: tokens.id_token ?? '',
    token_type: tokens.token_type, scope: tokens.scope ?? '', expires_in: tokens.expiresIn() ?? 0, claims: tokens.claims() ?? null };
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let answer;
  try {
    const cmd = JSON.parse(line);
    answer = { ok: true, ...(await commands[cmd.op](cmd)) };
  } catch (e) {
    answer = fail(e);
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
process.exit(0);
