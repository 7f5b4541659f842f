package replication

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Client quota entity types, as Kafka names them.
const (
	QuotaUser     = "user"
	QuotaClientID = "client-id"
	QuotaIP       = "ip"
)

// QuotaEntityPart is one part of a client quota entity: its type (user,
// client-id or ip) and name; a nil name is the type's default entity
// (Kafka's <default>).
type QuotaEntityPart struct {
	Type string  `json:"type"`
	Name *string `json:"name"`
}

// ClientQuota is the quotas set on one entity.
type ClientQuota struct {
	Entity []QuotaEntityPart  `json:"entity"` // sorted by type, each type once
	Values map[string]float64 `json:"values"` // never empty
}

// QuotaAlteration changes one entity's quotas: Set sets keys, Remove drops
// them.
type QuotaAlteration struct {
	Entity []QuotaEntityPart  `json:"entity"`
	Set    map[string]float64 `json:"set,omitempty"`
	Remove []string           `json:"remove,omitempty"`
}

// QuotaKey is the key of an entity in State.ClientQuotas: its parts in
// type order, each type=name, a default entity's name written as <default>
// and any other quoted, so that no two entities share a key.
func QuotaKey(entity []QuotaEntityPart) string {
	parts := slices.Clone(entity)
	slices.SortFunc(parts, func(a, b QuotaEntityPart) int { return strings.Compare(a.Type, b.Type) })
	var sb strings.Builder
	for i, p := range parts {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(p.Type)
		sb.WriteByte('=')
		if p.Name == nil {
			sb.WriteString("<default>")
		} else {
			sb.WriteString(strconv.Quote(*p.Name))
		}
	}
	return sb.String()
}

// applyQuotaAlterations applies alts, already checked by the broker, to
// s.ClientQuotas (a copy of the old map, as States are immutable).
func applyQuotaAlterations(s *State, alts []QuotaAlteration) {
	next := maps.Clone(s.ClientQuotas)
	if next == nil {
		next = map[string]ClientQuota{}
	}
	for _, a := range alts {
		if len(a.Entity) == 0 {
			continue
		}
		key := QuotaKey(a.Entity)
		values := maps.Clone(next[key].Values)
		if values == nil {
			values = map[string]float64{}
		}
		for _, k := range a.Remove {
			delete(values, k)
		}
		maps.Copy(values, a.Set)
		if len(values) == 0 {
			delete(next, key)
			continue
		}
		entity := slices.Clone(a.Entity)
		slices.SortFunc(entity, func(a, b QuotaEntityPart) int { return strings.Compare(a.Type, b.Type) })
		next[key] = ClientQuota{Entity: entity, Values: values}
	}
	s.ClientQuotas = next
	s.quotaKeys = quotaKeysOf(next)
}

// quotaChanges is an alteration as logged: key=value for each key set,
// -key for each removed, in key order, as configChanges writes them.
func quotaChanges(a QuotaAlteration) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a.Set)) {
		parts = append(parts, k+"="+strconv.FormatFloat(a.Set[k], 'g', -1, 64))
	}
	for _, k := range slices.Sorted(slices.Values(a.Remove)) {
		if _, set := a.Set[k]; !set {
			parts = append(parts, "-"+k)
		}
	}
	return strings.Join(parts, " ")
}

func quotaKeysOf(qs map[string]ClientQuota) map[string]bool {
	keys := map[string]bool{}
	for _, q := range qs {
		for k := range q.Values {
			keys[k] = true
		}
	}
	return keys
}

// HasQuotaKey reports whether some entity has a quota of key: when none
// has, a client's request need not look for its quota (the produce and
// fetch paths ask this first).
func (s *State) HasQuotaKey(key string) bool {
	if len(s.ClientQuotas) == 0 {
		return false
	}
	if s.quotaKeys == nil { // a State made by hand
		return quotaKeysOf(s.ClientQuotas)[key]
	}
	return s.quotaKeys[key]
}

// QuotaValue returns the quota key set on the entity with exactly parts
// (types in any order), and whether one is.
func (s *State) QuotaValue(key string, parts ...QuotaEntityPart) (float64, bool) {
	if len(s.ClientQuotas) == 0 {
		return 0, false
	}
	q, ok := s.ClientQuotas[QuotaKey(parts)]
	if !ok {
		return 0, false
	}
	v, ok := q.Values[key]
	return v, ok
}
