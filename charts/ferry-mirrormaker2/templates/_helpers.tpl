{{/* Name of every object of this release: ferry-mm2-<flow>, at most 63 characters. */}}
{{- define "ferry-mm2.fullname" -}}
{{- printf "ferry-mm2-%s" (required "flow: the flow name <source>--<target> (rendered values)" .Values.flow) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ferry-mm2.selectorLabels" -}}
app.kubernetes.io/name: ferry-mirrormaker2
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: mirrormaker2
{{- end -}}

{{- define "ferry-mm2.labels" -}}
{{ include "ferry-mm2.selectorLabels" . }}
app.kubernetes.io/part-of: ferry
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
ferry.dev/flow: {{ .Values.flow | quote }}
{{- end -}}

{{- define "ferry-mm2.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "ferry-mm2.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}

{{- define "ferry-mm2.configContent" -}}
{{- required "config.content: the MirrorMaker 2 properties are missing; pass them as a file parameter: --set-file config.content=<config.renderedFile> (Argo CD: source.helm.fileParameters)" .Values.config.content -}}
{{- end -}}

{{/* The flow's offset.lag.max from its properties (Kafka's default, 100, when absent). */}}
{{- define "ferry-mm2.offsetLagMax" -}}
{{- $line := regexFind "(?m)^[^#!\\n]*offset\\.lag\\.max\\s*[=:]\\s*[0-9]+" (include "ferry-mm2.configContent" .) -}}
{{- if $line -}}{{ regexFind "[0-9]+$" $line }}{{- else -}}100{{- end -}}
{{- end -}}
