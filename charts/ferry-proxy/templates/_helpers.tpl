{{/* Name of every object of this release: ferry-proxy-<gateway>, at most 63 characters. */}}
{{- define "ferry-proxy.fullname" -}}
{{- printf "ferry-proxy-%s" (required "gateway: the gateway name (rendered values)" .Values.gateway) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ferry-proxy.selectorLabels" -}}
app.kubernetes.io/name: ferry-proxy
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: proxy
{{- end -}}

{{- define "ferry-proxy.labels" -}}
{{ include "ferry-proxy.selectorLabels" . }}
app.kubernetes.io/part-of: ferry
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
ferry.dev/gateway: {{ .Values.gateway | quote }}
{{- end -}}

{{- define "ferry-proxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "ferry-proxy.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}

{{/* The route file's text; the chart cannot run without it. */}}
{{- define "ferry-proxy.routesContent" -}}
{{- required "routes.content: the route file is missing; pass it as a file parameter: --set-file routes.content=<routes.renderedFile> (Argo CD: source.helm.fileParameters)" .Values.routes.content -}}
{{- end -}}

{{/* Sorted, distinct ports of every bootstrap server the route file names, one per line. */}}
{{- define "ferry-proxy.upstreamPorts" -}}
{{- $table := include "ferry-proxy.routesContent" . | fromJson -}}
{{- if $table.Error -}}
{{- fail (printf "routes.content is not a route file (JSON): %s" $table.Error) -}}
{{- end -}}
{{- $ports := list -}}
{{- range $name, $cluster := $table.clusters -}}
{{- range $server := $cluster.bootstrap -}}
{{- $ports = append $ports (regexReplaceAll "^.*:" $server "") -}}
{{- end -}}
{{- end -}}
{{- range $port := $ports | uniq | sortAlpha -}}
{{ $port }}
{{ end -}}
{{- end -}}
