package broker

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestBrokerLoggers: the root broker logger is listed with its log4j level
// and set at run time through IncrementalAlterConfigs, with Kafka's checks.
func TestBrokerLoggers(t *testing.T) {
	level := new(slog.LevelVar)
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level}))
		c.LogLevel = level
	})
	defer b.Close()
	describe := func() (string, bool) {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.Version = 4
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
		req.Resources = append(req.Resources, rr)
		res := rawRequest(t, b, req).(*kmsg.DescribeConfigsResponse).Resources[0]
		if res.ErrorCode != 0 || len(res.Configs) != 1 || res.Configs[0].Name != "root" {
			t.Fatalf("describe loggers: error %d, %+v", res.ErrorCode, res.Configs)
		}
		return *res.Configs[0].Value, res.Configs[0].ReadOnly
	}
	set := func(name string, validateOnly bool, logger string, op kmsg.IncrementalAlterConfigOp, v *string) int16 {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.ValidateOnly = validateOnly
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, name
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = logger, op, v
		rr.Configs = append(rr.Configs, c)
		req.Resources = append(req.Resources, rr)
		return rawRequest(t, b, req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0].ErrorCode
	}
	if v, ro := describe(); v != "INFO" || ro {
		t.Fatalf("root logger: %s, read-only %v; want INFO, settable", v, ro)
	}
	s := kmsg.StringPtr
	for _, tc := range []struct {
		name, logger string
		op           kmsg.IncrementalAlterConfigOp
		v            *string
		want         *kerr.Error
	}{
		{"1", "root", kmsg.IncrementalAlterConfigOpSet, s("LOUD"), kerr.InvalidConfig},
		{"1", "kafka.server", kmsg.IncrementalAlterConfigOpSet, s("DEBUG"), kerr.InvalidConfig},
		{"1", "root", kmsg.IncrementalAlterConfigOpDelete, nil, kerr.InvalidRequest},
		{"1", "root", kmsg.IncrementalAlterConfigOpAppend, s("DEBUG"), kerr.InvalidRequest},
		{"2", "root", kmsg.IncrementalAlterConfigOpSet, s("DEBUG"), kerr.InvalidRequest},
	} {
		if code := set(tc.name, false, tc.logger, tc.op, tc.v); code != tc.want.Code {
			t.Errorf("%s %s %v %v: error %d, want %v", tc.name, tc.logger, tc.op, tc.v, code, tc.want)
		}
	}
	if code := set("1", true, "root", kmsg.IncrementalAlterConfigOpSet, s("DEBUG")); code != 0 {
		t.Fatalf("validate only: error %d", code)
	}
	if v, _ := describe(); v != "INFO" {
		t.Fatalf("validate only changed the level to %s", v)
	}
	if code := set("1", false, "root", kmsg.IncrementalAlterConfigOpSet, s("DEBUG")); code != 0 {
		t.Fatalf("set DEBUG: error %d", code)
	}
	if v, _ := describe(); v != "DEBUG" || !b.logger.Enabled(context.Background(), slog.LevelDebug) {
		t.Fatalf("after setting DEBUG: %s, debug enabled %v", v, b.logger.Enabled(context.Background(), slog.LevelDebug))
	}
	legacy := kmsg.NewPtrAlterConfigsRequest()
	lr := kmsg.NewAlterConfigsRequestResource()
	lr.ResourceType, lr.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
	lc := kmsg.NewAlterConfigsRequestResourceConfig()
	lc.Name, lc.Value = "root", s("WARN")
	lr.Configs = append(lr.Configs, lc)
	legacy.Resources = append(legacy.Resources, lr)
	if code := rawRequest(t, b, legacy).(*kmsg.AlterConfigsResponse).Resources[0].ErrorCode; code != kerr.InvalidRequest.Code {
		t.Errorf("legacy AlterConfigs of a logger: error %d, want INVALID_REQUEST", code)
	}
}
