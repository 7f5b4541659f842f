package jaas

import (
	"maps"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Entry
	}{
		{`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret";`,
			Entry{"org.apache.kafka.common.security.plain.PlainLoginModule", "required", map[string]string{"username": "admin", "password": "admin-secret", "user_admin": "admin-secret"}}},
		{"m  Optional\n a = b c=\"x \\\" y;z\" ;",
			Entry{"m", "optional", map[string]string{"a": "b", "c": `x " y;z`}}},
		{`org.apache.kafka.common.security.scram.ScramLoginModule required;`,
			Entry{"org.apache.kafka.common.security.scram.ScramLoginModule", "required", map[string]string{}}},
		// A quoted "=" or ";" is a value, as in Kafka's JaasConfig.
		{`m required user_a=";" user_b="=";`,
			Entry{"m", "required", map[string]string{"user_a": ";", "user_b": "="}}},
	} {
		got, err := Parse(c.in)
		if err != nil || got.Module != c.want.Module || got.Flag != c.want.Flag || !maps.Equal(got.Options, c.want.Options) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "m required", "m sometimes;", `m required a="b;`, "m required a;", "m required a=;", "a required; b required;"} {
		if e, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", bad, e)
		}
	}
}
