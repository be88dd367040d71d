// SPDX-License-Identifier: Apache-2.0
//
// helm_render renders a Helm chart without Helm (Helm is not packaged in Debian 12), so the
// deploy checks can parse and assert on the manifests the chart produces.
//
// It implements the part of Helm the chart in deploy/helm/ uses, with Helm's semantics:
//   - templates are Go text/template with the sprig function library (minus env/expandenv,
//     which Helm removes too) plus Helm's include, tpl, required, toYaml and fromYaml;
//   - every file under templates/ is parsed into one template set named
//     "<chart>/templates/<path>"; files starting with "_" are partials, NOTES.txt is rendered
//     separately; empty output is dropped;
//   - .Values = values.yaml, deep-merged with each --values file, then each --set/--set-string;
//     numbers read from YAML are float64 and toYaml prints whole numbers as integers, as Helm
//     (which goes through JSON) does, so a chart that misuses numbers fails here as in Helm;
//   - .Release.{Name,Namespace,Service,IsInstall,IsUpgrade,Revision}, .Chart.{Name,Version,
//     AppVersion,Description,Type,KubeVersion}, .Template.{Name,BasePath}.
//
// It is stricter than Helm in one way on purpose: a reference to a key that values.yaml does not
// define is an error (missingkey=error), so a typo in .Values.foo fails the check instead of
// rendering an empty string.
//
// Build offline in GOPATH mode against Debian's Go packages (golang-go,
// golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v3-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=<dir> go build -o helm_render main.go
//
// The import path is github.com/Masterminds/sprig (not .../v3): Debian installs sprig v3 at the
// unversioned GOPATH location, and sprig's own import of semver/v3 resolves through Go's
// minimal module compatibility.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type options struct {
	chartDir   string
	release    string
	namespace  string
	valueFiles multiFlag
	sets       multiFlag
	setStrings multiFlag
	output     string
	notes      string
}

func main() {
	var opt options
	flag.StringVar(&opt.chartDir, "chart", "", "chart directory (required)")
	flag.StringVar(&opt.release, "release", "release-name", "release name")
	flag.StringVar(&opt.namespace, "namespace", "default", "release namespace")
	flag.Var(&opt.valueFiles, "values", "values file merged over values.yaml (repeatable)")
	flag.Var(&opt.sets, "set", "key.path=value, typed like Helm --set (repeatable)")
	flag.Var(&opt.setStrings, "set-string", "key.path=value, always a string (repeatable)")
	flag.StringVar(&opt.output, "output", "-", "where the manifests go ('-' = stdout)")
	flag.StringVar(&opt.notes, "notes", "", "where the rendered NOTES.txt goes (optional)")
	flag.Parse()
	if opt.chartDir == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(opt); err != nil {
		fmt.Fprintf(os.Stderr, "helm_render: %v\n", err)
		os.Exit(1)
	}
}

func run(opt options) error {
	chart, err := loadChart(opt.chartDir)
	if err != nil {
		return err
	}
	values, err := loadValues(opt)
	if err != nil {
		return err
	}
	name, _ := chart["Name"].(string)
	files, err := templateFiles(opt.chartDir)
	if err != nil {
		return err
	}
	root := template.New("gotpl").Option("missingkey=error")
	root.Funcs(funcMap(root))
	for _, rel := range files {
		text, err := os.ReadFile(filepath.Join(opt.chartDir, "templates", rel))
		if err != nil {
			return err
		}
		if _, err := root.New(path.Join(name, "templates", rel)).Parse(string(text)); err != nil {
			return err
		}
	}
	release := map[string]interface{}{
		"Name": opt.release, "Namespace": opt.namespace, "Service": "Helm",
		"IsInstall": true, "IsUpgrade": false, "Revision": 1,
	}
	var manifests bytes.Buffer
	for _, rel := range files {
		base := path.Base(rel)
		if strings.HasPrefix(base, "_") {
			continue
		}
		tplName := path.Join(name, "templates", rel)
		ctx := map[string]interface{}{
			"Values":  values,
			"Release": release,
			"Chart":   chart,
			"Template": map[string]interface{}{
				"Name": tplName, "BasePath": path.Join(name, "templates"),
			},
		}
		var out bytes.Buffer
		if err := root.ExecuteTemplate(&out, tplName, ctx); err != nil {
			return err
		}
		if base == "NOTES.txt" {
			if opt.notes != "" {
				if err := os.WriteFile(opt.notes, out.Bytes(), 0o644); err != nil {
					return err
				}
			}
			continue
		}
		if strings.TrimSpace(out.String()) == "" {
			continue
		}
		fmt.Fprintf(&manifests, "---\n# Source: %s\n%s\n", tplName, strings.TrimRight(out.String(), "\n"))
	}
	if opt.output == "-" {
		_, err = os.Stdout.Write(manifests.Bytes())
		return err
	}
	return os.WriteFile(opt.output, manifests.Bytes(), 0o644)
}

// loadChart reads Chart.yaml into the capitalised field names templates see as .Chart.
func loadChart(dir string) (map[string]interface{}, error) {
	raw := map[string]interface{}{}
	if err := readYAML(filepath.Join(dir, "Chart.yaml"), &raw); err != nil {
		return nil, err
	}
	chart := map[string]interface{}{}
	for key, field := range map[string]string{
		"name": "Name", "version": "Version", "appVersion": "AppVersion",
		"description": "Description", "type": "Type", "kubeVersion": "KubeVersion",
		"apiVersion": "APIVersion",
	} {
		chart[field] = ""
		if v, ok := raw[key]; ok {
			chart[field] = fmt.Sprint(v)
		}
	}
	if chart["Name"] == "" || chart["Version"] == "" {
		return nil, fmt.Errorf("%s/Chart.yaml: name and version are required", dir)
	}
	return chart, nil
}

func loadValues(opt options) (map[string]interface{}, error) {
	values := map[string]interface{}{}
	if err := readYAML(filepath.Join(opt.chartDir, "values.yaml"), &values); err != nil {
		return nil, err
	}
	for _, file := range opt.valueFiles {
		extra := map[string]interface{}{}
		if err := readYAML(file, &extra); err != nil {
			return nil, err
		}
		mergeInto(values, extra)
	}
	for _, s := range opt.sets {
		if err := setPath(values, s, false); err != nil {
			return nil, err
		}
	}
	for _, s := range opt.setStrings {
		if err := setPath(values, s, true); err != nil {
			return nil, err
		}
	}
	return values, nil
}

func readYAML(file string, out *map[string]interface{}) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var parsed interface{}
	if err := yaml.Unmarshal(data, &parsed); err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	if parsed == nil {
		return nil
	}
	m, ok := jsonNumbers(parsed).(map[string]interface{})
	if !ok {
		return fmt.Errorf("%s: top level is not a mapping", file)
	}
	*out = m
	return nil
}

// jsonNumbers turns every YAML integer into float64, as Helm's YAML -> JSON -> Go path does.
func jsonNumbers(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, e := range t {
			t[k] = jsonNumbers(e)
		}
	case []interface{}:
		for i, e := range t {
			t[i] = jsonNumbers(e)
		}
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	}
	return v
}

// mergeInto deep-merges src over dst (maps merge, everything else is replaced); a null in src
// deletes the key, as in Helm.
func mergeInto(dst, src map[string]interface{}) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// setPath applies one "a.b.c=value" override; values are typed like Helm's --set (int64,
// bool, null, else string) unless asString. Lists and escaped dots are not supported.
func setPath(values map[string]interface{}, assignment string, asString bool) error {
	key, raw, ok := strings.Cut(assignment, "=")
	if !ok || key == "" {
		return fmt.Errorf("--set %q: expected key.path=value", assignment)
	}
	var value interface{} = raw
	if !asString {
		if i, err := strconv.ParseInt(raw, 10, 64); err == nil {
			value = i
		} else if raw == "true" || raw == "false" {
			value = raw == "true"
		} else if raw == "null" {
			value = nil
		}
	}
	parts := strings.Split(key, ".")
	m := values
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[p] = next
		}
		m = next
	}
	last := parts[len(parts)-1]
	if value == nil {
		delete(m, last)
	} else {
		m[last] = value
	}
	return nil
}

func templateFiles(chartDir string) ([]string, error) {
	base := filepath.Join(chartDir, "templates")
	var files []string
	err := filepath.Walk(base, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(files)
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("%s: no templates", base)
	}
	return files, err
}

func funcMap(root *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		if _, err := t.New("tpl").Parse(text); err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.ExecuteTemplate(&buf, "tpl", data)
		return buf.String(), err
	}
	return f
}

// toYAML marshals like Helm's toYaml: sorted keys, 2-space indent, whole floats as integers,
// no trailing newline; errors render as an empty string, as in Helm.
func toYAML(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(integralFloats(v)); err != nil {
		return ""
	}
	enc.Close()
	return strings.TrimSuffix(buf.String(), "\n")
}

func integralFloats(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, e := range t {
			out[k] = integralFloats(e)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, e := range t {
			out[i] = integralFloats(e)
		}
		return out
	case float64:
		if t == float64(int64(t)) && t < 1e21 && t > -1e21 {
			return int64(t)
		}
	}
	return v
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	var parsed interface{}
	if err := yaml.Unmarshal([]byte(s), &parsed); err != nil {
		m["Error"] = err.Error()
		return m
	}
	if pm, ok := jsonNumbers(parsed).(map[string]interface{}); ok {
		return pm
	}
	return m
}
