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

// TestIncrementalAlterConfigsChecksAsKafka: the checks Kafka's
// ConfigAdminManager makes of every resource (a key named twice, then
// every null value) come first, broker loggers' too, and a broker
// logger's ops are checked as Kafka's RuntimeLoggerManager checks them:
// the op's type before its logger, and OFF is no level one may set.
func TestIncrementalAlterConfigsChecksAsKafka(t *testing.T) {
	level := new(slog.LevelVar)
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level}))
		c.LogLevel = level
	})
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "t", 1, nil)
	type op struct {
		name string
		v    *string
		op   kmsg.IncrementalAlterConfigOp
	}
	alter := func(typ kmsg.ConfigResourceType, name string, ops ...op) (int16, string) {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = typ, name
		for _, o := range ops {
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Value, c.Op = o.name, o.v, o.op
			rr.Configs = append(rr.Configs, c)
		}
		req.Resources = append(req.Resources, rr)
		res := rawRequest(t, b, req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0]
		msg := ""
		if res.ErrorMessage != nil {
			msg = *res.ErrorMessage
		}
		return res.ErrorCode, msg
	}
	s := kmsg.StringPtr
	L, T, B := kmsg.ConfigResourceTypeBrokerLogger, kmsg.ConfigResourceTypeTopic, kmsg.ConfigResourceTypeBroker
	SET, APPEND := kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpAppend
	for _, tc := range []struct {
		typ  kmsg.ConfigResourceType
		name string
		ops  []op
		code int16
		msg  string
	}{
		{L, "1", []op{{"root", s("INFO"), SET}, {"root", s("DEBUG"), SET}}, kerr.InvalidRequest.Code, "Error due to duplicate config keys"},
		{L, "1", []op{{"root", s("OFF"), SET}}, kerr.InvalidConfig.Code, "Cannot set the log level of root to OFF as it is not a supported log level. Valid log levels are DEBUG, ERROR, FATAL, INFO, TRACE, WARN"},
		{L, "1", []op{{"root", s("INFO"), SET}, {"kafka.network.SocketServer", s("ERROR"), APPEND}}, kerr.InvalidRequest.Code, "APPEND operation is not allowed for the BROKER_LOGGER resource"},
		{L, "1", []op{{"root", nil, APPEND}}, kerr.InvalidRequest.Code, "Null value not supported for : root"},
		{L, "x", []op{{"root", s("INFO"), SET}}, kerr.InvalidRequest.Code, "Node id must be an integer, but it is: x"},
		{L, "2", []op{{"root", s("INFO"), SET}}, kerr.InvalidRequest.Code, "Unexpected node id. Expected 1, but got 2"},
		{T, "t", []op{{"retention.bytes", nil, SET}, {"retention.ms", nil, SET}}, kerr.InvalidRequest.Code, "Null value not supported for : retention.bytes, retention.ms"},
		{T, "t", []op{{"retention.ms", nil, SET}, {"x", s("1"), SET}, {"x", s("2"), SET}}, kerr.InvalidRequest.Code, "Error due to duplicate config keys"},
		{T, "t", []op{{"compression.type", s("gzip"), APPEND}}, kerr.InvalidConfig.Code, "Can't APPEND to key compression.type because its type is not LIST."},
		{T, "t", []op{{"compression.type", s("gzip"), kmsg.IncrementalAlterConfigOpSubtract}}, kerr.InvalidConfig.Code, "Can't SUBTRACT to key compression.type because its type is not LIST."},
		{B, "1", []op{{"log.retention.ms", s("1"), APPEND}}, kerr.InvalidConfig.Code, "Config value append is not allowed for config key: log.retention.ms"},
	} {
		if code, msg := alter(tc.typ, tc.name, tc.ops...); code != tc.code || msg != tc.msg {
			t.Errorf("%v %q %+v: %d %q, want %d %q", tc.typ, tc.name, tc.ops, code, msg, tc.code, tc.msg)
		}
	}
	if level.Level() != slog.LevelInfo {
		t.Fatalf("a refused request changed the root logger's level to %v", level.Level())
	}
}
