package compattests

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func httpGet(t *testing.T, url string) (int, string, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

// TestAdminEndpoints: /healthz answers 200 and /metrics serves Prometheus
// text whose request counters follow the requests clients made.
func TestAdminEndpoints(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 30*time.Second)
	base := "http://" + b.AdminAddr()

	if code, _, body := httpGet(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %q", code, body)
	}

	const topic = "metered"
	createTopic(t, ctx, newAdm(t, b.Addr()), topic, 1, nil)
	cl := newKgo(t, b.Addr())
	for i := 0; i < 5; i++ {
		produceSync(t, ctx, cl, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))})
	}
	consumeExactly(t, ctx, b.Addr(), topic, 0, 5)

	code, ctype, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	if !strings.HasPrefix(ctype, "text/plain") {
		t.Errorf("/metrics Content-Type %q, want Prometheus text (text/plain; version=0.0.4)", ctype)
	}
	if !strings.Contains(body, "# TYPE gokafka_requests_total counter") {
		t.Errorf("/metrics lacks the gokafka_requests_total counter:\n%s", body)
	}
	// Every sample line is "name{labels} value".
	sample := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? ([-+0-9.eE]+|NaN|[+-]Inf)( -?[0-9]+)?$`)
	for _, l := range strings.Split(body, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !sample.MatchString(l) {
			t.Errorf("not a Prometheus sample line: %q", l)
		}
	}
	// At least 5 produce requests were counted, under some label naming
	// Produce.
	produce := regexp.MustCompile(`(?m)^gokafka_requests_total\{[^}]*="(?i:produce)"[^}]*\} ([0-9.e+]+)$`)
	m := produce.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no gokafka_requests_total sample for Produce:\n%s", grepLines(body, "gokafka_requests_total"))
	}
	if n, _ := strconv.ParseFloat(m[1], 64); n < 5 {
		t.Errorf("gokafka_requests_total for Produce = %v, want >= 5", n)
	}
	if !regexp.MustCompile(`(?m)^gokafka_topic_records_in_total\{topic="metered"\} 5$`).MatchString(body) {
		t.Errorf("gokafka_topic_records_in_total for %s is not 5:\n%s", topic, grepLines(body, "records_in"))
	}

	// A deleted topic's series go with it, as in Kafka.
	if resp, err := newAdm(t, b.Addr()).DeleteTopics(ctx, topic); err != nil || resp.Error() != nil {
		t.Fatalf("delete %s: %v %v", topic, err, resp.Error())
	}
	if _, _, body := httpGet(t, base+"/metrics"); strings.Contains(body, `topic="metered"`) {
		t.Errorf("series of the deleted topic remain:\n%s", grepLines(body, `topic="metered"`))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
