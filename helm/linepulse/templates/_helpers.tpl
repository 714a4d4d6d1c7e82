{{/* Chart name, cut to 63 characters. */}}
{{- define "linepulse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the release's resources. */}}
{{- define "linepulse.fullname" -}}
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

{{- define "linepulse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "linepulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "linepulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "linepulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "linepulse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "linepulse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret with the worker's query token: the user's, or the one the chart creates. */}}
{{- define "linepulse.queryTokenSecret" -}}
{{- .Values.worker.queryTokenSecret | default (printf "%s-query-token" (include "linepulse.fullname" .)) -}}
{{- end -}}

{{- define "linepulse.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Environment shared by every LinePulse container: Kafka and ClickHouse wiring. */}}
{{- define "linepulse.env" -}}
- name: LINEPULSE_KAFKA_BOOTSTRAP
  value: {{ required "kafka.bootstrapServers is required" .Values.kafka.bootstrapServers | quote }}
- name: LINEPULSE_KAFKA_PARTITIONS
  value: {{ .Values.kafka.partitions | quote }}
- name: LINEPULSE_KAFKA_REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | quote }}
- name: LINEPULSE_KAFKA_SECURITY_PROTOCOL
  value: {{ if and .Values.kafka.tls.enabled .Values.kafka.sasl.enabled }}SASL_SSL{{ else if .Values.kafka.tls.enabled }}SSL{{ else if .Values.kafka.sasl.enabled }}SASL_PLAINTEXT{{ else }}PLAINTEXT{{ end }}
{{- if .Values.kafka.tls.enabled }}
- name: LINEPULSE_KAFKA_SSL_CA_FILE
  value: /etc/linepulse/kafka-ca/{{ .Values.kafka.tls.caKey }}
{{- if .Values.kafka.tls.clientSecret }}
- name: LINEPULSE_KAFKA_SSL_CERT_FILE
  value: /etc/linepulse/kafka-client/{{ .Values.kafka.tls.certKey }}
- name: LINEPULSE_KAFKA_SSL_KEY_FILE
  value: /etc/linepulse/kafka-client/{{ .Values.kafka.tls.keyKey }}
{{- end }}
{{- end }}
{{- if .Values.kafka.sasl.enabled }}
- name: LINEPULSE_KAFKA_SASL_MECHANISM
  value: {{ .Values.kafka.sasl.mechanism | quote }}
- name: LINEPULSE_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.sasl.existingSecret is required with SASL" .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: LINEPULSE_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.passwordKey }}
{{- end }}
- name: LINEPULSE_DATA_DIR
  value: /data
{{- with .Values.clickhouse.retention }}
- name: LINEPULSE_RETENTION_RAW_DAYS
  value: {{ .rawDays | quote }}
- name: LINEPULSE_RETENTION_DETAIL_DAYS
  value: {{ .detailDays | quote }}
- name: LINEPULSE_RETENTION_EVENTS_DAYS
  value: {{ .eventsDays | quote }}
- name: LINEPULSE_RETENTION_AGGREGATE_DAYS
  value: {{ .aggregateDays | quote }}
{{- end }}
{{- if .Values.clickhouse.url }}
- name: LINEPULSE_CLICKHOUSE_URL
  value: {{ .Values.clickhouse.url | quote }}
{{- if .Values.clickhouse.caSecret }}
- name: LINEPULSE_CLICKHOUSE_CA_FILE
  value: /etc/linepulse/clickhouse-ca/{{ .Values.clickhouse.caKey }}
{{- end }}
{{- if .Values.clickhouse.existingSecret }}
- name: LINEPULSE_CLICKHOUSE_USER
  valueFrom:
    secretKeyRef:
      name: {{ .Values.clickhouse.existingSecret }}
      key: {{ .Values.clickhouse.userKey }}
- name: LINEPULSE_CLICKHOUSE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.clickhouse.existingSecret }}
      key: {{ .Values.clickhouse.passwordKey }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volumes with the Kafka and ClickHouse TLS material. */}}
{{- define "linepulse.tlsVolumes" -}}
{{- if and .Values.clickhouse.url .Values.clickhouse.caSecret }}
- name: clickhouse-ca
  secret:
    secretName: {{ .Values.clickhouse.caSecret }}
{{- end }}
{{- if .Values.kafka.tls.enabled }}
- name: kafka-ca
  secret:
    secretName: {{ required "kafka.tls.caSecret is required with TLS" .Values.kafka.tls.caSecret }}
{{- if .Values.kafka.tls.clientSecret }}
- name: kafka-client
  secret:
    secretName: {{ .Values.kafka.tls.clientSecret }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "linepulse.tlsMounts" -}}
{{- if and .Values.clickhouse.url .Values.clickhouse.caSecret }}
- name: clickhouse-ca
  mountPath: /etc/linepulse/clickhouse-ca
  readOnly: true
{{- end }}
{{- if .Values.kafka.tls.enabled }}
- name: kafka-ca
  mountPath: /etc/linepulse/kafka-ca
  readOnly: true
{{- if .Values.kafka.tls.clientSecret }}
- name: kafka-client
  mountPath: /etc/linepulse/kafka-client
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}
