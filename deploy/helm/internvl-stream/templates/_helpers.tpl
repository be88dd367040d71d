{{/* SPDX-License-Identifier: Apache-2.0 */}}

{{/* Chart name, overridable. */}}
{{- define "internvl-stream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart> unless the release name already contains the chart
name; truncated to 63 characters (DNS label limit).
*/}}
{{- define "internvl-stream.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "internvl-stream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable for the life of the release (a StatefulSet selector is immutable). */}}
{{- define "internvl-stream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "internvl-stream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "internvl-stream.labels" -}}
helm.sh/chart: {{ include "internvl-stream.chart" . }}
{{ include "internvl-stream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "internvl-stream.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The service config: .Values.config plus the keys the chart owns because they must agree with
the pod spec (model mount, ports, shard identity). Setting one of them in values is an error
rather than being silently overridden.
*/}}
{{- define "internvl-stream.config" -}}
{{- $config := deepCopy .Values.config }}
{{- $model := get $config "model" | default dict }}
{{- $http := get $config "http" | default dict }}
{{- $outputs := get $config "outputs" | default dict }}
{{- if hasKey $model "path" }}
{{- fail "config.model.path is set by the chart (model.mountPath); remove it from values" }}
{{- end }}
{{- if hasKey $http "listen" }}
{{- fail "config.http.listen is set by the chart (ports.http); remove it from values" }}
{{- end }}
{{- if hasKey $outputs "zmq" }}
{{- fail "config.outputs.zmq is set by the chart (ports.zmq); remove it from values" }}
{{- end }}
{{- if hasKey $config "sharding" }}
{{- fail "config.sharding is set by the chart (replicaCount, pod index); remove it from values" }}
{{- end }}
{{- $_ := set $model "path" "${INTERNVL_MODEL_DIR}" }}
{{- $_ = set $http "listen" (printf "0.0.0.0:%d" (int .Values.ports.http)) }}
{{- $_ = set $outputs "zmq" (dict "endpoint" (printf "bind:tcp://*:%d" (int .Values.ports.zmq))) }}
{{- $_ = set $config "model" $model }}
{{- $_ = set $config "http" $http }}
{{- $_ = set $config "outputs" $outputs }}
{{- $_ = set $config "sharding" (dict "replicas" "${INTERNVL_SHARD_COUNT}" "ordinal" "${INTERNVL_SHARD_ORDINAL}") }}
{{- toYaml $config }}
{{- end }}
