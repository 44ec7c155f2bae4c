#!/bin/sh
# Create wardwatch's Kafka topics with the partition counts and cleanup
# policies the workers expect. Runs once, in the apache/kafka image (the
# `kafka-init` service of docker-compose.yml), before any worker starts;
# safe to run again (existing topics are kept, their settings checked).
#
#   WARDWATCH_KAFKA_BOOTSTRAP  broker list             (default kafka:9092)
#   WARDWATCH_APP_ID           Faust app id            (default wardwatch)
#   WARDWATCH_PARTITIONS       partitions of `vitals`  (default 6)
#   WARDWATCH_REPLICATION      of every topic          (default 1: one broker)
#   WARDWATCH_TOPIC_*          topic names, as wardwatch reads them (VITALS,
#                              ALERTS, DLQ, ACKS, AUDIT, NOTIFY_DLQ,
#                              NOTIFY_STATE, PATIENT_WARDS, ADT, PATIENTS)
#   DLQ_RETENTION_MS           vitals-dlq, notify-dlq  (default 30 days)
#   AUDIT_RETENTION_MS         audit                   (default 400 days)
#   KAFKA_BIN                  Kafka's bin directory   (default /opt/kafka/bin)
#   WAIT_SECONDS               how long to wait for the broker (default 120)
#
# Co-partitioning: Faust joins `vitals`, `alert-acks`, the repartition topic
# and the state changelog partition by partition, so those four always get
# the partition count `vitals` really has (an existing `vitals` wins over
# WARDWATCH_PARTITIONS). Partition counts are never changed here: adding
# partitions to a keyed topic moves patients to other partitions, away from
# their state. Scale out by recreating the topics (see docs/operations.md).
set -eu

BOOTSTRAP="${WARDWATCH_KAFKA_BOOTSTRAP:-kafka:9092}"
APP_ID="${WARDWATCH_APP_ID:-wardwatch}"
PARTITIONS="${WARDWATCH_PARTITIONS:-6}"
RF="${WARDWATCH_REPLICATION:-1}"
T_VITALS="${WARDWATCH_TOPIC_VITALS:-vitals}"
T_ALERTS="${WARDWATCH_TOPIC_ALERTS:-alerts}"
T_DLQ="${WARDWATCH_TOPIC_DLQ:-vitals-dlq}"
T_ACKS="${WARDWATCH_TOPIC_ACKS:-alert-acks}"
T_AUDIT="${WARDWATCH_TOPIC_AUDIT:-audit}"
T_NOTIFY_DLQ="${WARDWATCH_TOPIC_NOTIFY_DLQ:-notify-dlq}"
T_NOTIFY_STATE="${WARDWATCH_TOPIC_NOTIFY_STATE:-notify-state}"
T_PATIENT_WARDS="${WARDWATCH_TOPIC_PATIENT_WARDS:-patient-wards}"
T_ADT="${WARDWATCH_TOPIC_ADT:-adt}"
T_PATIENTS="${WARDWATCH_TOPIC_PATIENTS:-patients}"
DLQ_RETENTION_MS="${DLQ_RETENTION_MS:-2592000000}"
AUDIT_RETENTION_MS="${AUDIT_RETENTION_MS:-34560000000}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
WAIT_SECONDS="${WAIT_SECONDS:-120}"

topics() { "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" "$@"; }
configs() { "$KAFKA_BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" "$@"; }
log() { echo "create-topics: $*"; }

# Partition count of an existing topic, or nothing.
partition_count() {
    topics --describe --topic "$1" 2>/dev/null \
        | sed -n 's/.*PartitionCount:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1
}

# ensure TOPIC PARTITIONS [--config k=v ...]
ensure() {
    topic="$1"; want="$2"; shift 2
    have="$(partition_count "$topic")"
    if [ -z "$have" ]; then
        log "creating $topic ($want partitions, replication $RF $*)"
        # --if-not-exists: another init run may race us; that is fine.
        topics --create --if-not-exists --topic "$topic" \
            --partitions "$want" --replication-factor "$RF" "$@"
        return 0
    fi
    if [ "$have" != "$want" ]; then
        log "WARNING: $topic exists with $have partitions, expected $want; left unchanged"
    else
        log "$topic exists ($have partitions)"
    fi
    # An existing topic gets the configs too (idempotent).
    while [ $# -ge 2 ]; do
        if [ "$1" = "--config" ]; then
            configs --alter --entity-type topics --entity-name "$topic" --add-config "$2" >/dev/null
        fi
        shift 2
    done
}

log "waiting for the broker at $BOOTSTRAP"
waited=0
until topics --list >/dev/null 2>&1; do
    if [ "$waited" -ge "$WAIT_SECONDS" ]; then
        log "broker $BOOTSTRAP not reachable after ${WAIT_SECONDS}s" >&2
        exit 1
    fi
    sleep 2
    waited=$((waited + 2))
done

ensure "$T_VITALS" "$PARTITIONS"
VITALS_PARTITIONS="$(partition_count "$T_VITALS")"
if [ -z "$VITALS_PARTITIONS" ]; then
    log "cannot read the partition count of $T_VITALS" >&2
    exit 1
fi

# Co-partitioned with vitals.
ensure "$T_ACKS" "$VITALS_PARTITIONS"
ensure "$APP_ID-patient-repartition" "$VITALS_PARTITIONS"
ensure "$APP_ID-patient_state-changelog" "$VITALS_PARTITIONS" --config cleanup.policy=compact
# ADT events in, and the patients table (encounter + location per patient) the worker keeps from them.
ensure "$T_ADT" "$VITALS_PARTITIONS"
ensure "$T_PATIENTS" "$VITALS_PARTITIONS" --config cleanup.policy=compact

# Outputs, keyed by patient_id.
ensure "$T_ALERTS" "$VITALS_PARTITIONS"
ensure "$T_AUDIT" "$VITALS_PARTITIONS" --config retention.ms="$AUDIT_RETENTION_MS"

# Dead-letter topics: low volume, kept for investigation. They may hold raw
# patient data: restrict access with ACLs on a real cluster.
ensure "$T_DLQ" 1 --config retention.ms="$DLQ_RETENTION_MS"
ensure "$T_NOTIFY_DLQ" 1 --config retention.ms="$DLQ_RETENTION_MS"

# Read in full by the notifier at its start, so compacted to the last value
# per key: its delivery state (what was sent to whom, open chases) and the
# patient -> ward/bed records its routing uses.
ensure "$T_NOTIFY_STATE" 1 --config cleanup.policy=compact
ensure "$T_PATIENT_WARDS" 1 --config cleanup.policy=compact

log "done:"
topics --describe --topics-with-overrides 2>/dev/null || true
