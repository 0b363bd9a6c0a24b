package api_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
)

var jsonCT = http.Header{"Content-Type": {"application/json"}}

// expectCT asks the server before sending the body (Expect:
// 100-continue): the server refuses an oversize Content-Length without
// reading the body, so a client that pushes the body regardless may find
// its connection reset before it reads the 413 (nothing read, nothing
// buffered: the point of the limit). This client waits for the answer.
var expectCT = http.Header{"Content-Type": {"application/json"}, "Expect": {"100-continue"}}

// TestBodyLimitsPerRoute: a body larger than its route can carry is a
// 413 in the envelope, before it is parsed; one the route can carry is
// not.
func TestBodyLimitsPerRoute(t *testing.T) {
	e := newEnv(t, api.Options{})
	ctx := context.Background()
	// A client that waits for 100 Continue (net/http's default transport
	// does; httptest's client does not).
	asking := *e.cl
	asking.HTTP = &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 10 * time.Second}}
	comments := `{"guest":{"userid":"g1","vcpus":1,"memory":1024,"comments":[` + strings.Repeat(`"",`, 349_000) + `""]}}`
	r, err := asking.Raw(ctx, "POST", "/guests", expectCT, []byte(comments))
	want(t, "1 MiB create", r, err, 413, 400, 120, 400, 413)
	// Pushed without asking: refused all the same (a 413 or a reset,
	// never a guest).
	if r, err := e.cl.Raw(ctx, "POST", "/guests", jsonCT, []byte(comments)); err == nil && r.Status != 413 {
		t.Errorf("1 MiB create pushed without Expect: HTTP %d %s", r.Status, r.Raw)
	}
	r, err = asking.Raw(ctx, "POST", "/images", expectCT, []byte(`{"image":{"image_name":"`+strings.Repeat("a", 20<<10)+`"}}`))
	want(t, "20 KiB import", r, err, 413, 400, 120, 400, 413)
	r, err = asking.Raw(ctx, "POST", "/guests/g1/nic", expectCT, []byte(`{"nic":{"nic_id":"`+strings.Repeat("a", 8<<10)+`"}}`))
	want(t, "8 KiB nic", r, err, 413, 400, 120, 400, 413)
	ok2 := `{"guest":{"userid":"g1","vcpus":1,"memory":1024,"comments":[` + strings.Repeat(`"a comment line",`, 1000) + `""]}}`
	r, err = e.cl.Raw(ctx, "POST", "/guests", jsonCT, []byte(ok2))
	ok(t, "17 KiB create", r, err)
}

// TestSlowBodyClosed: a client that sends headers and then trickles its
// body is answered 408 and its connection closed after BodyReadTimeout.
func TestSlowBodyClosed(t *testing.T) {
	e := newEnv(t, api.Options{BodyReadTimeout: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /guests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"overallRC": 400`) && !strings.Contains(string(body), `"overallRC":400`) {
		t.Errorf("slow body: %d %s", resp.StatusCode, body)
	}
	// The server closed the connection: a read ends with EOF, not the deadline.
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("connection still open after the slow body: %v", err)
	}
}

// TestInFlightLimit: past MaxInFlight requests the next gets 503 with
// the deploy semaphore's envelope, and a slot comes back when a
// request ends.
func TestInFlightLimit(t *testing.T) {
	e := newEnv(t, api.Options{MaxInFlight: 1, BodyReadTimeout: 10 * time.Second})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	// Holds the one slot while its body is outstanding.
	fmt.Fprintf(conn, "POST /guests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{")
	ctx := context.Background()
	var r *api_Reply
	for range 100 {
		if r, err = e.cl.Raw(ctx, "GET", "/guests", nil, nil); err == nil && r.Status == 503 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	want(t, "second request", r, err, 503, 503, 120, 503, 1)
	if !strings.Contains(r.ErrMsg, "Max concurrent requests (1)") {
		t.Errorf("503 message %q", r.ErrMsg)
	}
	conn.Close()
	for range 100 {
		if r, err = e.cl.Raw(ctx, "GET", "/guests", nil, nil); err == nil && r.Status == 200 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ok(t, "after the first ended", r, err)
}

func jwt(key, payload string) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	s := h + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(s))
	return s + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestTokenExpRequired: tokens signed with the admin token but without
// exp, or with an exp beyond the validity period, are refused.
func TestTokenExpRequired(t *testing.T) {
	e := newEnv(t, api.Options{Auth: &api.Auth{
		AdminToken: func() ([]byte, error) { return []byte("s3cret-admin"), nil }, Validity: time.Hour}})
	ctx := context.Background()
	for what, payload := range map[string]string{
		"no exp":          `{}`,
		"exp in 10 years": fmt.Sprintf(`{"exp":%d}`, time.Now().Add(10*365*24*time.Hour).Unix()),
		"exp a string":    `{"exp":"soon"}`,
	} {
		r, err := e.cl.Raw(ctx, "GET", "/guests", http.Header{"X-Auth-Token": {jwt("s3cret-admin", payload)}}, nil)
		want(t, what, r, err, 401, 400, 120, 400, 401)
	}
	r, err := e.cl.Raw(ctx, "GET", "/guests", http.Header{"X-Auth-Token": {jwt("s3cret-admin", fmt.Sprintf(`{"exp":%d}`, time.Now().Add(30*time.Minute).Unix()))}}, nil)
	ok(t, "exp in 30 min", r, err)
}

// TestAdminTokenThrottled: failed admin-token attempts past the limit
// get 429 without being checked, and the log has one line per window,
// not one per attempt.
func TestAdminTokenThrottled(t *testing.T) {
	e := newEnv(t, api.Options{Auth: &api.Auth{
		AdminToken: func() ([]byte, error) { return []byte("s3cret-admin"), nil }}})
	ctx := context.Background()
	codes := map[int]int{}
	for range 200 {
		r, _, err := e.cl.Token(ctx, "wrong")
		if err != nil {
			t.Fatal(err)
		}
		codes[r.Status]++
	}
	if codes[401] != 5 || codes[429] != 195 {
		t.Errorf("answers %v, want 5 x 401 then 429", codes)
	}
	r, _, err := e.cl.Token(ctx, "s3cret-admin")
	want(t, "right token while throttled", r, err, 429, 400, 120, 400, 429)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "token refused"); n != 1 {
		t.Errorf("%d 'token refused' lines, want 1:\n%s", n, logs)
	}
	if n := strings.Count(logs, "\n"); n > 10 {
		t.Errorf("%d log lines for 200 attempts", n)
	}
}

// TestBadNamesAre400: image names the backend cannot make a file of are
// validation errors naming the field, never 500s.
func TestBadNamesAre400(t *testing.T) {
	e := newEnv(t, api.Options{})
	ctx := context.Background()
	for what, name := range map[string]string{
		"NUL": "img\\u0000x", "300 bytes": strings.Repeat("n", 300), "slash": "../../etc", "newline": "a\\nb", "dots": "..",
	} {
		body := `{"image":{"image_name":"` + name + `","url":"file:///var/lib/nova/images/x","image_meta":{"os_version":"rhel9"}}}`
		r, err := e.cl.Raw(ctx, "POST", "/images", jsonCT, []byte(body))
		want(t, what, r, err, 400, 400, 120, 400, 400)
		if !strings.Contains(r.ErrMsg, "field/attribute image_name") {
			t.Errorf("%s: message %q does not name the field", what, r.ErrMsg)
		}
	}
	r, err := e.cl.Raw(ctx, "DELETE", "/images/a%00b", nil, nil)
	want(t, "NUL in path", r, err, 400, 400, 120, 400, 400)
	r, err = e.cl.Raw(ctx, "GET", "/images/"+strings.Repeat("n", 300)+"/root_disk_size", nil, nil)
	want(t, "long path name", r, err, 400, 400, 120, 400, 400)
	r, err = e.cl.Raw(ctx, "POST", "/guests/g1/action", jsonCT, []byte(`{"action":"deploy","image":"a\u0000b"}`))
	want(t, "NUL deploy image", r, err, 400, 400, 120, 400, 400)
}
