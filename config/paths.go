package config

import (
	"path/filepath"
	"reflect"
	"strings"
)

// resolveFileKeys makes every relative path in a `*_file` or `*_files` key
// (password_file, ca_file, module_files, …), at any depth, relative to dir,
// as Prometheus does for the files its config names. Collectors then read
// them from wherever fleetwatch was started.
func resolveFileKeys(v reflect.Value, dir string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			resolveFileKeys(v.Elem(), dir)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			fv := v.Field(i)
			switch {
			case strings.HasSuffix(name, "_file") && fv.Kind() == reflect.String && fv.CanSet():
				fv.SetString(joinRelative(dir, fv.String()))
			case strings.HasSuffix(name, "_files") && fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
				for j := range fv.Len() {
					fv.Index(j).SetString(joinRelative(dir, fv.Index(j).String()))
				}
			default:
				resolveFileKeys(fv, dir)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			resolveFileKeys(v.Index(i), dir)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := v.MapIndex(k)
			if e.Kind() == reflect.Pointer && !e.IsNil() {
				resolveFileKeys(e, dir) // map values of pointer type can be changed in place
			}
		}
	}
}

func joinRelative(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "pack:") {
		return p // pack:NAME is a built-in rule pack, not a path
	}
	return filepath.Join(dir, p)
}
