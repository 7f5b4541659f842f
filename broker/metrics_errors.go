package broker

import (
	"reflect"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// responseErrors calls count for every error code in resp other than NONE:
// the top-level ErrorCode and those of each topic, partition, resource or
// member the response lists, as Kafka's errorCounts feeds its ErrorsPerSec
// metric. It reads kmsg's structs by their field names (every kmsg response
// names its codes ErrorCode), so it follows new response versions without
// a list to keep.
func responseErrors(resp kmsg.Response, count func(code int16)) {
	if resp == nil {
		return
	}
	v := reflect.ValueOf(resp)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	walkErrors(v, count)
}

// errPlan is where a struct type's error codes are: its own ErrorCode field
// (-1: none) and the fields (structs, pointers to structs, slices of them)
// that hold more.
type errPlan struct {
	code  int
	inner []int
}

var errPlans sync.Map // reflect.Type -> *errPlan

func walkErrors(v reflect.Value, count func(int16)) {
	p := planFor(v.Type())
	if p.code >= 0 {
		if c := int16(v.Field(p.code).Int()); c != 0 {
			count(c)
		}
	}
	for _, i := range p.inner {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Struct:
			walkErrors(f, count)
		case reflect.Pointer:
			if !f.IsNil() {
				walkErrors(f.Elem(), count)
			}
		case reflect.Slice:
			for j := 0; j < f.Len(); j++ {
				e := f.Index(j)
				if e.Kind() == reflect.Pointer {
					if e.IsNil() {
						continue
					}
					e = e.Elem()
				}
				walkErrors(e, count)
			}
		}
	}
}

// planFor returns t's plan, made once per type.
func planFor(t reflect.Type) *errPlan {
	if p, ok := errPlans.Load(t); ok {
		return p.(*errPlan)
	}
	p := &errPlan{code: -1}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16 {
			p.code = i
			continue
		}
		if holdsErrors(f.Type, map[reflect.Type]bool{}) {
			p.inner = append(p.inner, i)
		}
	}
	errPlans.Store(t, p)
	return p
}

// holdsErrors reports whether a value of t can hold an ErrorCode field:
// a struct with one, or a pointer to or slice of such. Byte slices (record
// batches) and maps are not looked into.
func holdsErrors(t reflect.Type, seen map[reflect.Type]bool) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		return holdsErrors(t.Elem(), seen)
	case reflect.Struct:
		if seen[t] {
			return false
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16 || holdsErrors(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// errorName is the label of a Kafka error code: its name (a code kerr does
// not know is UNKNOWN_SERVER_ERROR, as clients read it).
func errorName(code int16) string {
	if e := kerr.TypedErrorForCode(code); e != nil {
		return e.Message
	}
	return "NONE"
}
