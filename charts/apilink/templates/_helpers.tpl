{{/* Chart name. */}}
{{- define "apilink.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-prefixed unless the release name already contains the chart name. */}}
{{- define "apilink.fullname" -}}
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

{{- define "apilink.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "apilink.selectorLabels" -}}
app.kubernetes.io/name: {{ include "apilink.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "apilink.labels" -}}
helm.sh/chart: {{ include "apilink.chart" . }}
{{ include "apilink.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: apilink
{{- end }}

{{- define "apilink.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "apilink.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* RBAC rules for links and events: exactly the calls the controller makes. */}}
{{- define "apilink.linkRules" -}}
- apiGroups: ["apilink.dev"]
  resources: ["apisourcelinks"]
  # list/watch: the link cache; patch: adding and removing the finalizer.
  verbs: ["list", "watch", "patch"]
- apiGroups: ["apilink.dev"]
  resources: ["apisourcelinks/status"]
  # Server-side apply of the status.
  verbs: ["patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* The one rule on Secrets: get the Secret a link names, in the link's namespace. Never
     list or watch: the controller reads the Secret again at each pass (and while a link
     waits for it), so it never needs to know which other Secrets exist. */}}
{{- define "apilink.secretRule" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}

{{/* Whether the controller may get Secrets in namespace .ns (a watched namespace). */}}
{{- define "apilink.readsSecretsIn" -}}
{{- $rbac := .root.Values.rbac }}
{{- if and $rbac.readSecrets (or (not $rbac.secretNamespaces) (has .ns $rbac.secretNamespaces)) }}true{{ end }}
{{- end }}
