{{/* The chart's name, or nameOverride. */}}
{{- define "downloader-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name of the release's objects: fullnameOverride, or the release name when it already holds
the chart's name, else "<release>-<chart>". 63 characters at most, as DNS labels need.
*/}}
{{- define "downloader-operator.fullname" -}}
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

{{- define "downloader-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "downloader-operator.labels" -}}
helm.sh/chart: {{ include "downloader-operator.chart" . }}
{{ include "downloader-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the operator's pods; they never change between upgrades. */}}
{{- define "downloader-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "downloader-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "downloader-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "downloader-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "downloader-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
NODE_OPTIONS of the operator container: the image's 2 MiB semi-spaces, and V8's old generation
capped at three quarters of the container's memory limit when that is given in Mi or Gi. Without
a cap V8 lets the heap grow to several times what it holds before it collects, past the limit
(docs/benchmarks.md, "Memory"). Empty without such a limit: the image's own cap applies.
*/}}
{{- define "downloader-operator.nodeOptions" -}}
{{- $limit := toString (dig "limits" "memory" "" (.Values.resources | default dict)) }}
{{- $mib := 0 }}
{{- if regexMatch "^[0-9]+Mi$" $limit }}
{{- $mib = trimSuffix "Mi" $limit | atoi }}
{{- else if regexMatch "^[0-9]+Gi$" $limit }}
{{- $mib = mul (trimSuffix "Gi" $limit | atoi) 1024 }}
{{- end }}
{{- if gt $mib 0 }}
{{- printf "--max-semi-space-size=2 --max-old-space-size=%d" (div (mul $mib 3) 4) }}
{{- end }}
{{- end }}

{{- define "downloader-operator.leaseNamespace" -}}
{{- default .Release.Namespace .Values.config.leaseNamespace }}
{{- end }}

{{/*
What the operator does in the namespaces it watches, and nothing more (src/kube/*.ts):
- Downloaders: get (DownloaderClient.get), list and watch (the informer), patch (finalizers,
  by a JSON patch guarded by the resourceVersion);
- their status: patch (merge patch on the status subresource);
- Secrets: list and watch (the informer the auth header is read from; never get, create or
  delete);
- core Events: create, and patch to bump the count of a repeated one.
A test runs the operator with only these and checks it reconciles, runs and deletes.
*/}}
{{- define "downloader-operator.watchRules" -}}
- apiGroups: ["downloader.dev"]
  resources: ["downloaders"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["downloader.dev"]
  resources: ["downloaders/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
