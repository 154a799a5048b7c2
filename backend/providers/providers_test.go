package providers

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/config"
	"github.com/loopat/desktop/internal/testkit/mockapi"
	"github.com/loopat/desktop/backend/vault"
	"github.com/zalando/go-keyring"
)

const testKey = "sk-ant-test-0123456789"

func provider(base string) config.Provider {
	return config.Provider{Name: "t", BaseURL: base, Models: []string{"claude-test"}, KeyRef: "T_KEY"}
}

func apiServer(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestConnectionOKSendsTheRightRequest(t *testing.T) {
	var got struct {
		path, key, version, auth string
		body                     map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.path, got.key, got.version = r.URL.Path, r.Header.Get("x-api-key"), r.Header.Get("anthropic-version")
		got.auth = r.Header.Get("authorization")
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		_, _ = io.WriteString(w, `{"id":"msg_1","type":"message","content":[]}`)
	}))
	defer srv.Close()
	res := TestConnection(context.Background(), provider(srv.URL+"/proxy/"), testKey, "")
	if !res.OK || res.Class != ClassOK || res.Status != 200 {
		t.Fatalf("result %+v", res)
	}
	if got.path != "/proxy/v1/messages" || got.key != testKey || got.version != AnthropicVersion || got.auth != "" {
		t.Fatalf("request %+v", got)
	}
	if got.body["max_tokens"] != float64(1) || got.body["model"] != "claude-test" {
		t.Fatalf("body %v", got.body)
	}
}

func TestConnectionHTTPFailures(t *testing.T) {
	cases := []struct {
		status int
		body   string
		class  string
	}{
		{401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key ` + testKey + `"}}`, ClassAuth},
		{403, `{"type":"error","error":{"type":"permission_error","message":"no"}}`, ClassAuth},
		{404, `{"type":"error","error":{"type":"not_found_error","message":"model: claude-test"}}`, ClassModel},
		{404, `404 page not found`, ClassNotFound},
		{404, `{"type":"error","error":{"type":"not_found_error","message":"Not Found"}}`, ClassNotFound},
		{429, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`, ClassRateLimited},
		{500, `{"type":"error","error":{"type":"api_error","message":"boom"}}`, ClassServer},
		{529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, ClassServer},
		{400, `{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}`, ClassBadRequest},
		{307, ``, ClassRedirect},
	}
	for _, c := range cases {
		srv := apiServer(t, c.status, c.body)
		res := TestConnection(context.Background(), provider(srv.URL), testKey, "")
		if res.OK || res.Class != c.class || res.Status != c.status || res.Hint == "" {
			t.Errorf("status %d: got %+v, want class %s", c.status, res, c.class)
		}
		if strings.Contains(res.Message, testKey) {
			t.Errorf("status %d: key in message %q", c.status, res.Message)
		}
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	res := TestConnection(context.Background(), provider("http://"+addr), testKey, "")
	if res.Class != ClassRefused {
		t.Fatalf("got %+v", res)
	}
}

func TestConnectionTLSUnknownAuthority(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the rejected handshake is expected
	srv.StartTLS()
	defer srv.Close()
	res := TestConnection(context.Background(), provider(srv.URL), testKey, "")
	if res.Class != ClassTLS || !strings.Contains(res.Hint, "unknown authority") {
		t.Fatalf("got %+v", res)
	}
	// Trusting the server's CA makes the same server pass.
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	if res := (Tester{RootCAs: pool}).Test(context.Background(), provider(srv.URL), testKey, ""); !res.OK {
		t.Fatalf("with the CA trusted: %+v", res)
	}
	// Plain HTTP to the TLS port is a TLS-class mistake too.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	if res := TestConnection(context.Background(), provider(strings.Replace(plain.URL, "http:", "https:", 1)), testKey, ""); res.Class != ClassTLS {
		t.Fatalf("https to an http server: %+v", res)
	}
}

func TestConnectionTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	res := Tester{Timeout: 300 * time.Millisecond}.Test(context.Background(), provider(srv.URL), testKey, "")
	if res.Class != ClassTimeout || time.Since(start) > 5*time.Second {
		t.Fatalf("got %+v after %s", res, time.Since(start))
	}
}

// nxdomainServer is a loopback DNS server answering NXDOMAIN to everything, so the
// DNS failure is real without any query leaving the machine.
func nxdomainServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			resp := append([]byte(nil), buf[:n]...)
			binary.BigEndian.PutUint16(resp[2:], 0x8183) // response, recursion available, NXDOMAIN
			binary.BigEndian.PutUint16(resp[6:], 0)      // no answers
			binary.BigEndian.PutUint16(resp[8:], 0)
			binary.BigEndian.PutUint16(resp[10:], 0)
			_, _ = pc.WriteTo(resp, from)
		}
	}()
	return pc.LocalAddr().String()
}

func TestConnectionDNS(t *testing.T) {
	dnsAddr := nxdomainServer(t)
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dnsAddr)
	}}
	res := Tester{Resolver: r, Timeout: 5 * time.Second}.Test(context.Background(), provider("https://api.loopat-test.invalid"), testKey, "")
	if res.Class != ClassDNS {
		t.Fatalf("got %+v", res)
	}
}

func TestConnectionConfigProblems(t *testing.T) {
	if res := TestConnection(context.Background(), provider("http://127.0.0.1:1"), "", ""); res.Class != ClassNoKey {
		t.Fatalf("no key: %+v", res)
	}
	p := provider("http://127.0.0.1:1")
	p.Models = nil
	if res := TestConnection(context.Background(), p, testKey, ""); res.Class != ClassConfig {
		t.Fatalf("no model: %+v", res)
	}
}

func TestResolve(t *testing.T) {
	keyring.MockInit()
	ws, _ := config.NewWorkspace(filepath.Join(t.TempDir(), "ws"))
	v := vault.New(ws, vault.OSKeyring())
	cfg := config.Default()
	cfg.Providers = append(cfg.Providers, config.Provider{Name: "local", BaseURL: "http://127.0.0.1:9", Models: []string{"m1", "m2"}, KeyRef: "LOCAL_KEY"})

	_, err := Resolve(cfg, v, "", "")
	if !errors.Is(err, vault.ErrNotFound) || !strings.Contains(err.Error(), "loopat vault set") {
		t.Fatalf("missing key: %v", err)
	}
	if err := v.SetEnv("", "ANTHROPIC_API_KEY", "sk-real"); err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(cfg, v, "", "")
	if err != nil || r.Name != "anthropic" || r.Key != "sk-real" || r.Model != cfg.Agent.DefaultModel {
		t.Fatalf("default provider: %+v %v", r, err)
	}
	if b, _ := json.Marshal(r); strings.Contains(string(b), "sk-real") {
		t.Fatalf("key serialised: %s", b)
	}
	if err := v.SetEnv("team", "LOCAL_KEY", "k2"); err != nil {
		t.Fatal(err)
	}
	r, err = Resolve(cfg, v, "team", "local")
	if err != nil || r.Key != "k2" || r.Model != "m1" {
		t.Fatalf("named provider: %+v %v", r, err)
	}
	if _, err := Resolve(cfg, v, "", "nope"); err == nil || !strings.Contains(err.Error(), "anthropic, local") {
		t.Fatalf("unknown provider: %v", err)
	}
}

// Against the mock Messages API the tests use: the right base URL connects; a base URL
// with an extra path (a common mistake: ".../v1") is a wrong endpoint, not an unknown model.
func TestConnectionAgainstTheMockAPI(t *testing.T) {
	srv := mockapi.New(mockapi.Options{})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p := config.Provider{Name: "mock", BaseURL: srv.URL(), Models: []string{"claude-sonnet-4-5"}}
	if r := TestConnection(t.Context(), p, "k", ""); !r.OK || r.Class != ClassOK {
		t.Fatalf("right URL: %+v", r)
	}
	p.BaseURL = srv.URL() + "/v1"
	if r := TestConnection(t.Context(), p, "k", ""); r.OK || r.Class != ClassNotFound || r.Status != 404 {
		t.Fatalf("wrong URL: %+v", r)
	}
}
