// decode.go - reading the engine's JSON answers into the result types: the field's Go type
// decides the conversion (time.Time from Unix milliseconds, time.Duration from milliseconds),
// so no key name is guessed at.

package loyal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// strictDecoding makes a key that no field takes an error (the tests set it, so that the
// types cannot fall behind the engine); otherwise keys a newer engine adds are ignored.
var strictDecoding = false

var (
	timeType     = reflect.TypeOf(time.Time{})
	durationType = reflect.TypeOf(time.Duration(0))
)

// decode reads the JSON text into *result.
func decode(text []byte, result any) error {
	decoder := json.NewDecoder(bytes.NewReader(text))
	decoder.UseNumber()
	var value any
	if err := decoder.Decode(&value); err != nil {
		return fmt.Errorf("loyal: reading the engine's answer: %w", err)
	}
	return assign(reflect.ValueOf(result).Elem(), value, "")
}

func fromMilliseconds(ms int64) time.Time {
	return time.UnixMilli(ms).UTC()
}

// isTimeKey says whether a key of a free-form body (a happening's) holds a time: "at", "*_at",
// "*_until".
func isTimeKey(key string) bool {
	return key == "at" || strings.HasSuffix(key, "_at") || strings.HasSuffix(key, "_until")
}

// plain turns json.Numbers into int64 (whole) or float64 values, for map[string]any fields.
func plain(value any) any {
	switch v := value.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = plain(v[i])
		}
	case map[string]any:
		for key := range v {
			v[key] = plain(v[key])
		}
	}
	return value
}

func assign(target reflect.Value, value any, where string) error {
	if value == nil {
		target.Set(reflect.Zero(target.Type()))
		return nil
	}
	mismatch := func() error {
		return fmt.Errorf("loyal: %s: the engine's %T does not fit %s", where, value, target.Type())
	}
	switch {
	case target.Type() == timeType || target.Type() == durationType:
		number, ok := value.(json.Number)
		if !ok {
			return mismatch()
		}
		ms, err := number.Int64()
		if err != nil {
			return mismatch()
		}
		if target.Type() == timeType {
			target.Set(reflect.ValueOf(fromMilliseconds(ms)))
		} else {
			target.SetInt(int64(time.Duration(ms) * time.Millisecond))
		}
		return nil
	}
	switch target.Kind() {
	case reflect.Interface:
		target.Set(reflect.ValueOf(plain(value)))
	case reflect.String:
		text, ok := value.(string)
		if !ok {
			return mismatch()
		}
		target.SetString(text)
	case reflect.Bool:
		flag, ok := value.(bool)
		if !ok {
			return mismatch()
		}
		target.SetBool(flag)
	case reflect.Int, reflect.Int64:
		number, ok := value.(json.Number)
		n, err := number.Int64()
		if !ok || err != nil {
			return mismatch()
		}
		target.SetInt(n)
	case reflect.Float64:
		number, ok := value.(json.Number)
		f, err := number.Float64()
		if !ok || err != nil {
			return mismatch()
		}
		target.SetFloat(f)
	case reflect.Pointer:
		fresh := reflect.New(target.Type().Elem())
		if err := assign(fresh.Elem(), value, where); err != nil {
			return err
		}
		target.Set(fresh)
	case reflect.Slice:
		list, ok := value.([]any)
		if !ok {
			return mismatch()
		}
		slice := reflect.MakeSlice(target.Type(), len(list), len(list))
		for i, element := range list {
			if err := assign(slice.Index(i), element, fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return err
			}
		}
		target.Set(slice)
	case reflect.Map:
		object, ok := value.(map[string]any)
		if !ok {
			return mismatch()
		}
		m := reflect.MakeMapWithSize(target.Type(), len(object))
		for key, element := range object {
			item := reflect.New(target.Type().Elem()).Elem()
			if err := assign(item, element, where+"."+key); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(key), item)
		}
		target.Set(m)
	case reflect.Struct:
		object, ok := value.(map[string]any)
		if !ok {
			return mismatch()
		}
		return assignStruct(target, object, where)
	default:
		return mismatch()
	}
	return nil
}

func assignStruct(target reflect.Value, object map[string]any, where string) error {
	taken := 0
	known := map[string]bool{}
	for i := 0; i < target.NumField(); i++ {
		field := target.Type().Field(i)
		if field.Anonymous && field.Type.Kind() == reflect.Struct {
			// An embedded result type reads the same object (CheckCoupon's Coupon).
			inner := target.Field(i)
			for j := 0; j < inner.NumField(); j++ {
				key, _, _ := strings.Cut(inner.Type().Field(j).Tag.Get("json"), ",")
				if _, present := object[key]; present && key != "" && !known[key] {
					known[key] = true
					taken++
					if err := assign(inner.Field(j), object[key], where+"."+key); err != nil {
						return err
					}
				}
			}
			continue
		}
		key, _, _ := strings.Cut(field.Tag.Get("json"), ",")
		if key == "" || key == "-" {
			continue
		}
		known[key] = true
		element, present := object[key]
		if !present {
			continue
		}
		taken++
		if err := assign(target.Field(i), element, where+"."+key); err != nil {
			return err
		}
	}
	if strictDecoding && taken != len(object) {
		var extra []string
		for key := range object {
			if !known[key] {
				extra = append(extra, key)
			}
		}
		return fmt.Errorf("loyal: %s takes no %v (at %q)", target.Type(), extra, where)
	}
	return nil
}
