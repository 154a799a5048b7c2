// Package providers resolves Anthropic-compatible model providers from the config and
// their API keys from a vault, and tests a provider's connection with an exact
// failure class (DNS, refused, TLS, auth, unknown model, rate limit, server, timeout).
package providers

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/backend/secrets"
	"github.com/loopat/desktop/backend/vault"
)

// AnthropicVersion is sent with every request, as the Messages API requires.
const AnthropicVersion = "2023-06-01"

// KeySource reads an env secret from a vault (*vault.Vault satisfies it).
type KeySource interface {
	GetEnv(vault, name string) (string, error)
}

// Resolved is a provider with the model to use and its API key.
type Resolved struct {
	config.Provider
	Model string `json:"model"`
	Key   string `json:"-"` // never serialised
}

// Find returns the provider called name, or the configured default when name is "".
func Find(cfg config.Config, name string) (config.Provider, error) {
	if name == "" {
		name = cfg.Agent.DefaultProvider
	}
	for _, p := range cfg.Providers {
		if p.Name == name {
			return p, nil
		}
	}
	var names []string
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
	}
	return config.Provider{}, fmt.Errorf("no provider named %q in config (have: %s)", name, strings.Join(names, ", "))
}

// DefaultModel is the model a loop uses on p unless it asks for another: the agent's
// default model if p offers it (or lists none), else p's first model.
func DefaultModel(cfg config.Config, p config.Provider) string {
	if len(p.Models) == 0 || slices.Contains(p.Models, cfg.Agent.DefaultModel) {
		return cfg.Agent.DefaultModel
	}
	return p.Models[0]
}

// Resolve finds providerName ("" = default) and reads its key from vaultName ("" = default).
func Resolve(cfg config.Config, keys KeySource, vaultName, providerName string) (Resolved, error) {
	p, err := Find(cfg, providerName)
	if err != nil {
		return Resolved{}, err
	}
	if _, err := url.Parse(p.BaseURL); err != nil {
		return Resolved{}, fmt.Errorf("provider %s: base_url %q: %w", p.Name, p.BaseURL, err)
	}
	r := Resolved{Provider: p, Model: DefaultModel(cfg, p)}
	if p.KeyRef == "" {
		return r, fmt.Errorf("provider %s has no key configured (set `key = \"ENV_NAME\"` in its [[providers]] entry)", p.Name)
	}
	if vaultName == "" {
		vaultName = vault.DefaultVault
	}
	key, err := keys.GetEnv(vaultName, p.KeyRef)
	if err != nil {
		if errors.Is(err, vault.ErrNotFound) {
			return r, fmt.Errorf("provider %s: API key %s is not in vault %s; add it with `loopat vault set --vault %s %s`: %w",
				p.Name, p.KeyRef, vaultName, vaultName, p.KeyRef, err)
		}
		return r, fmt.Errorf("provider %s: read API key %s: %w", p.Name, p.KeyRef, err)
	}
	r.Key = key
	return r, nil
}

// MessagesURL is the Messages API endpoint under a provider's base URL.
func MessagesURL(base string) string { return strings.TrimSuffix(base, "/") + "/v1/messages" }

// Failure classes reported by TestConnection.
const (
	ClassOK          = "ok"
	ClassNoKey       = "no_key"
	ClassKeychain    = "keychain" // the key could not be read: keychain locked or absent
	ClassConfig      = "config"
	ClassDNS         = "dns"
	ClassRefused     = "connection_refused"
	ClassTLS         = "tls"
	ClassTimeout     = "timeout"
	ClassNetwork     = "network"
	ClassAuth        = "auth"            // 401, 403
	ClassModel       = "model_not_found" // 404 from the API for the model
	ClassNotFound    = "endpoint_not_found"
	ClassRateLimited = "rate_limited" // 429
	ClassServer      = "server_error" // 5xx
	ClassBadRequest  = "bad_request"  // other 4xx
	ClassRedirect    = "redirect"
)

// TestResult is what the UI shows for "test connection".
type TestResult struct {
	Provider  string `json:"provider"`
	URL       string `json:"url"`
	Model     string `json:"model"`
	OK        bool   `json:"ok"`
	Class     string `json:"class"`
	Status    int    `json:"status,omitempty"` // HTTP status, when a response came back
	Message   string `json:"message"`
	Hint      string `json:"hint,omitempty"`
	LatencyMS int64  `json:"latencyMs"`
}

// Tester sends test requests. The zero value uses the system resolver and trust store.
type Tester struct {
	Timeout  time.Duration  // whole request; default 15 s
	Resolver *net.Resolver  // nil = system resolver
	RootCAs  *x509.CertPool // nil = system trust store
}

// TestConnection sends a 1-token Messages request to p with key and classifies the outcome.
// model "" means p's first model.
func TestConnection(ctx context.Context, p config.Provider, key, model string) TestResult {
	return Tester{}.Test(ctx, p, key, model)
}

// Test is TestConnection with t's settings.
func (t Tester) Test(ctx context.Context, p config.Provider, key, model string) TestResult {
	if model == "" && len(p.Models) > 0 {
		model = p.Models[0]
	}
	res := TestResult{Provider: p.Name, URL: MessagesURL(p.BaseURL), Model: model}
	scrub := secrets.New(key)
	fail := func(class, msg, hint string) TestResult {
		res.Class, res.Message, res.Hint = class, scrub.String(msg), hint
		return res
	}
	if key == "" {
		return fail(ClassNoKey, "no API key", "store the provider's key in the vault: loopat vault set "+p.KeyRef)
	}
	if model == "" {
		return fail(ClassConfig, "no model to test", "list at least one model for the provider")
	}
	u, err := url.Parse(res.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail(ClassConfig, fmt.Sprintf("invalid base_url %q", p.BaseURL), "use e.g. https://api.anthropic.com")
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, _ := json.Marshal(map[string]any{
		"model": model, "max_tokens": 1,
		"messages": []map[string]string{{"role": "user", "content": "ping"}},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, res.URL, bytes.NewReader(body))
	if err != nil {
		return fail(ClassConfig, err.Error(), "")
	}
	req.Header.Set("x-api-key", key)
	req.Header.Set("anthropic-version", AnthropicVersion)
	req.Header.Set("content-type", "application/json")

	start := time.Now()
	resp, err := t.client().Do(req)
	res.LatencyMS = time.Since(start).Milliseconds()
	if err != nil {
		class, hint := classifyError(ctx, err)
		return fail(class, err.Error(), hint)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res.Status = resp.StatusCode
	_, apiMsg := parseAPIError(data)
	msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if apiMsg != "" {
		msg += ": " + apiMsg
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		res.OK = true
		return fail(ClassOK, "connected; the model answered", "")
	case code == 401 || code == 403:
		return fail(ClassAuth, msg, "the API key was rejected: check or rotate it in the vault")
	// Anthropic answers an unknown path with not_found_error too ("Not Found"): only a
	// message naming the model is an unknown model, anything else a wrong base URL.
	case code == 404 && strings.Contains(strings.ToLower(apiMsg), "model"):
		return fail(ClassModel, msg, fmt.Sprintf("the provider does not know model %q: check the provider's model list", model))
	case code == 404:
		return fail(ClassNotFound, msg, "no Messages API at this URL: check base_url (it should not end in /v1)")
	case code == 429:
		return fail(ClassRateLimited, msg, "rate limited or out of credit: wait, or check the account's limits")
	case code >= 500:
		return fail(ClassServer, msg, "the provider has a problem; try again later")
	case code >= 300 && code < 400:
		return fail(ClassRedirect, fmt.Sprintf("%s to %s", msg, resp.Header.Get("Location")), "use the final URL as base_url")
	default:
		return fail(ClassBadRequest, msg, "the provider rejected the request")
	}
}

func (t Tester) client() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Resolver: t.Resolver}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: t.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &http.Client{
		Transport: tr,
		// Never follow a redirect: the key is in x-api-key, which Go would resend to any host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func classifyError(ctx context.Context, err error) (class, hint string) {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		return ClassDNS, "the host name does not resolve: check base_url and your DNS/VPN"
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused, "nothing listens at that host and port: check base_url, or start the local proxy/server"
	case errors.As(err, &unknownCA):
		return ClassTLS, "the server's certificate is signed by an unknown authority (a corporate TLS proxy?): add its CA to the system trust store"
	case errors.As(err, &hostErr):
		return ClassTLS, "the certificate does not match the host name in base_url"
	case errors.As(err, &invalidCert) || errors.As(err, &verifyErr):
		return ClassTLS, "the server's certificate is invalid or expired"
	case errors.As(err, &recordErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return ClassTLS, "the server does not speak TLS here: use http:// or the right port"
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || (errors.As(err, &netErr) && netErr.Timeout()):
		return ClassTimeout, "no answer in time: check the network, proxy settings and base_url"
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:"):
		return ClassTLS, "TLS handshake failed"
	}
	return ClassNetwork, "check the network and base_url"
}

// parseAPIError reads Anthropic's {"type":"error","error":{"type":..,"message":..}}.
func parseAPIError(body []byte) (typ, msg string) {
	var e struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Error.Type != "" || e.Error.Message != "") {
		return e.Error.Type, e.Error.Message
	}
	if s := strings.TrimSpace(string(body)); len(s) > 0 && len(s) <= 200 && !strings.ContainsAny(s, "<>") {
		return "", s
	}
	return "", ""
}
