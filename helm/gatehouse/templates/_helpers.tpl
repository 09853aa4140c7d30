{{/* Names, labels and the pieces both planes share. */}}

{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.controlPlane" -}}{{ include "gatehouse.fullname" . | trunc 49 | trimSuffix "-" }}-control-plane{{- end -}}
{{- define "gatehouse.dataPlane" -}}{{ include "gatehouse.fullname" . | trunc 52 | trimSuffix "-" }}-data-plane{{- end -}}
{{- define "gatehouse.postgresql" -}}{{ include "gatehouse.fullname" . | trunc 52 | trimSuffix "-" }}-postgresql{{- end -}}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "data-plane"). */}}
{{- define "gatehouse.selector" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "gatehouse.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}{{ include "gatehouse.fullname" . }}{{- else -}}default{{- end -}}
{{- end -}}

{{- define "gatehouse.image" -}}
{{ printf "%s/%s/%s:%s" .root.Values.image.registry .root.Values.image.repository .name (default .root.Chart.AppVersion .root.Values.image.tag) }}
{{- end -}}

{{/* The Secret holding the generated (or existing) secrets. */}}
{{- define "gatehouse.secretName" -}}
{{- if .Values.secrets.existingSecret -}}{{ .Values.secrets.existingSecret }}{{- else -}}{{ include "gatehouse.fullname" . }}{{- end -}}
{{- end -}}

{{/* The Secret and key holding the database URL. */}}
{{- define "gatehouse.databaseSecretName" -}}
{{- if .Values.database.existingSecret -}}{{ .Values.database.existingSecret }}{{- else -}}{{ include "gatehouse.fullname" . }}-database{{- end -}}
{{- end -}}
{{- define "gatehouse.databaseSecretKey" -}}
{{- if .Values.database.existingSecret -}}{{ .Values.database.existingSecretKey }}{{- else -}}database-url{{- end -}}
{{- end -}}

{{/* An env entry read from the chart's Secret: (dict "root" $ "name" "X" "key" "k"). */}}
{{- define "gatehouse.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "gatehouse.secretName" .root }}
      key: {{ .key }}
{{- end -}}

{{/* env, envFrom and extraEnv of a plane: global entries first, then the plane's. */}}
{{- define "gatehouse.userEnv" -}}
{{- range $k, $v := .root.Values.env }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- range $k, $v := .plane.env }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- with .root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .plane.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "gatehouse.envFrom" -}}
{{- with .root.Values.envFrom }}
{{ toYaml . }}
{{- end }}
{{- with .plane.envFrom }}
{{ toYaml . }}
{{- end }}
{{- range (concat .root.Values.envFromSecrets .plane.envFromSecrets) }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end -}}

{{/* Default spread: across zones and nodes, best effort. */}}
{{- define "gatehouse.spread" -}}
{{- if .plane.topologySpreadConstraints }}
{{ toYaml .plane.topologySpreadConstraints }}
{{- else }}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "gatehouse.selector" (dict "root" .root "component" .component) | nindent 6 }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "gatehouse.selector" (dict "root" .root "component" .component) | nindent 6 }}
{{- end }}
{{- end -}}

{{/* "true" when the bundled Postgres is used: enabled, and no external database given. */}}
{{- define "gatehouse.bundledPostgres" -}}
{{- if and .Values.postgresql.enabled (not .Values.database.externalDatabaseUrl) (not .Values.database.existingSecret) -}}true{{- end -}}
{{- end -}}
