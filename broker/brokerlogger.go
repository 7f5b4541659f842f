package broker

import (
	"context"
	"log/slog"
	"math"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Broker loggers (the BROKER_LOGGER config resource), as Kafka's
// `kafka-configs --entity-type broker-loggers` lists and sets them: one
// logger here, "root", whose level is that of Config.LogLevel (set at start
// by --log-level). A level set at run time lasts until the process stops,
// as in Kafka.

const rootLogger = "root"

// kafkaLevels are log4j's level names, most verbose first, with the slog
// level each maps to.
var kafkaLevels = []struct {
	name  string
	level slog.Level
}{
	{"TRACE", slog.LevelDebug - 4},
	{"DEBUG", slog.LevelDebug},
	{"INFO", slog.LevelInfo},
	{"WARN", slog.LevelWarn},
	{"ERROR", slog.LevelError},
	{"FATAL", slog.LevelError + 4},
	{"OFF", slog.Level(math.MaxInt32)},
}

// levelName is the log4j name of an slog level: the most verbose name
// whose level is at or above it.
func levelName(l slog.Level) string {
	for _, k := range kafkaLevels {
		if l <= k.level {
			return k.name
		}
	}
	return "OFF"
}

// rootLevel is the root logger's level, and whether it can be changed.
func (b *Broker) rootLevel() (slog.Level, bool) {
	if b.cfg.LogLevel != nil {
		return b.cfg.LogLevel.Level(), true
	}
	// A logger the embedding program made: find its level by asking it.
	for _, k := range kafkaLevels {
		if b.logger.Enabled(context.Background(), k.level) {
			return k.level, false
		}
	}
	return slog.Level(math.MaxInt32), false
}

// describeLoggers answers DescribeConfigs for a BROKER_LOGGER resource.
func (b *Broker) describeLoggers(wanted func(string) bool) []kmsg.DescribeConfigsResponseResourceConfig {
	if !wanted(rootLogger) {
		return nil
	}
	l, settable := b.rootLevel()
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = rootLogger
	c.Value = kmsg.StringPtr(levelName(l))
	c.Source = kmsg.ConfigSourceDynamicBrokerLoggerConfig
	c.ReadOnly = !settable
	c.ConfigType = kmsg.ConfigTypeString
	return []kmsg.DescribeConfigsResponseResourceConfig{c}
}

// alterLoggers applies IncrementalAlterConfigs to a BROKER_LOGGER resource
// with Kafka's checks: this broker's id, known loggers, log4j level names,
// SET or DELETE only, and the root logger's level cannot be deleted.
func (b *Broker) alterLoggers(rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	// As Kafka's RuntimeLoggerManager: the resource names this node, then
	// each op in turn is checked, its type first, then its logger, then
	// the level, which is one log4j may be set to (OFF is not one of
	// them); nothing is applied unless every op passes.
	id, err := strconv.ParseInt(rr.ResourceName, 10, 32)
	if err != nil {
		return kafkaErrorf(kerr.InvalidRequest, "Node id must be an integer, but it is: %s", rr.ResourceName)
	}
	if id != int64(b.cfg.NodeID) {
		return kafkaErrorf(kerr.InvalidRequest, "Unexpected node id. Expected %d, but got %s", b.cfg.NodeID, rr.ResourceName)
	}
	var set *slog.Level
	for _, c := range rr.Configs {
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete:
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			return kafkaErrorf(kerr.InvalidRequest, "%s operation is not allowed for the %s resource", c.Op, kmsg.ConfigResourceTypeBrokerLogger)
		default:
			return kafkaErrorf(kerr.InvalidRequest, "Unknown operation type %d is not allowed for the %s resource", int8(c.Op), kmsg.ConfigResourceTypeBrokerLogger)
		}
		if c.Name != rootLogger {
			return kafkaErrorf(kerr.InvalidConfig, "Logger %s does not exist!", c.Name)
		}
		if c.Op == kmsg.IncrementalAlterConfigOpDelete {
			return kafkaErrorf(kerr.InvalidRequest, "Removing the log level of the %s logger is not allowed", rootLogger)
		}
		if c.Value == nil {
			return kafkaErrorf(kerr.InvalidRequest, "Null value not supported for : %s", c.Name)
		}
		found := false
		for _, k := range kafkaLevels {
			if k.name == *c.Value && k.name != "OFF" {
				l := k.level
				set, found = &l, true
			}
		}
		if !found {
			return kafkaErrorf(kerr.InvalidConfig, "Cannot set the log level of %s to %s as it is not a supported log level. Valid log levels are DEBUG, ERROR, FATAL, INFO, TRACE, WARN", c.Name, *c.Value)
		}
	}
	if _, settable := b.rootLevel(); !settable && set != nil {
		return kafkaErrorf(kerr.InvalidRequest, "the root logger's level is fixed by the program embedding this broker (Config.LogLevel is unset)")
	}
	if validateOnly || set == nil {
		return nil
	}
	b.cfg.LogLevel.Set(*set)
	b.logger.Info("root logger level set", "level", levelName(*set))
	return nil
}
