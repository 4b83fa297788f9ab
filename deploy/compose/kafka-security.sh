#!/bin/bash
# Gives every producer of Vigie's topics a SCRAM-SHA-512 user and the ACLs of
# shared/vigie_shared/kit/kafka_acls.py (tests/deploy/test_kafka_acls.py checks that the lines
# below are that table): only "accounting" writes billing.events.v1, each service only its own
# topics and the dead-letter topics of what it reads. Running it again changes nothing.
#
# Run once by compose's kafka-security service, which shares the single broker's network
# namespace: by default it reaches the broker's loopback listener (LOCAL, 127.0.0.1:9095), where
# it is the super user. For the three-broker cluster (kafka-cluster-security), which has no
# unauthenticated listener, VIGIE_KAFKA_BOOTSTRAP names the brokers and the script logs in as
# their super user "admin" with VIGIE_KAFKA_ADMIN_PASSWORD (kafka-node.sh).
set -euo pipefail

BIN=${KAFKA_BIN:-/opt/kafka/bin}
BOOTSTRAP=${VIGIE_KAFKA_BOOTSTRAP:-127.0.0.1:9095}
LOGIN=()
if [[ -n ${VIGIE_KAFKA_ADMIN_PASSWORD:-} ]]; then
    # The password in a file of this user's alone, for as long as the script runs.
    umask 077
    admin_config=$(mktemp)
    trap 'rm -f "$admin_config"' EXIT
    cat > "$admin_config" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
username="admin" password="$VIGIE_KAFKA_ADMIN_PASSWORD";
EOF
    LOGIN=(--command-config "$admin_config")
fi

# user NAME PASSWORD
user() {
    "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" "${LOGIN[@]}" --alter \
        --entity-type users --entity-name "$1" --add-config "SCRAM-SHA-512=[password=$2]" > /dev/null
}

# acl PRINCIPAL topic|group literal|prefixed OPERATION[,OPERATION...] NAME...
acl() {
    local principal=$1 type=$2 pattern=$3 operations=$4
    shift 4
    local args=() operation name
    for operation in ${operations//,/ }; do args+=(--operation "$operation"); done
    for name in "$@"; do args+=("--$type" "$name"); done
    "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" "${LOGIN[@]}" --add \
        --allow-principal "User:$principal" --resource-pattern-type "$pattern" "${args[@]}" > /dev/null
}

user accounting "${VIGIE_KAFKA_PASSWORD_ACCOUNTING:?set VIGIE_KAFKA_PASSWORD_ACCOUNTING}"
user audit-log "${VIGIE_KAFKA_PASSWORD_AUDIT_LOG:?set VIGIE_KAFKA_PASSWORD_AUDIT_LOG}"
user data-system "${VIGIE_KAFKA_PASSWORD_DATA_SYSTEM:?set VIGIE_KAFKA_PASSWORD_DATA_SYSTEM}"
user dpo-requests "${VIGIE_KAFKA_PASSWORD_DPO_REQUESTS:?set VIGIE_KAFKA_PASSWORD_DPO_REQUESTS}"
user sso-gateway "${VIGIE_KAFKA_PASSWORD_SSO_GATEWAY:?set VIGIE_KAFKA_PASSWORD_SSO_GATEWAY}"

acl accounting topic literal Read access.events.v1
acl accounting topic literal Read,Write billing.events.v1
acl audit-log group prefixed Read audit_log.
acl audit-log topic literal Create,Describe,Read access.events.v1 billing.events.v1 dpo.requests.v1 dpo.tasks.v1
acl audit-log topic literal Create,Describe,Read,Write dpo.task-results.v1 identity.events.v1
acl audit-log topic literal Create,Describe,Write access.events.v1.dlq billing.events.v1.dlq dpo.requests.v1.dlq dpo.task-results.v1.dlq dpo.tasks.v1.dlq identity.events.v1.dlq
acl data-system group prefixed Read data-system.
acl data-system topic literal Read dpo.tasks.v1
acl data-system topic literal Write dpo.task-results.v1 dpo.tasks.v1.dlq
acl dpo-requests group prefixed Read dpo_requests.
acl dpo-requests topic literal Create,Describe access.events.v1 access.events.v1.dlq billing.events.v1 billing.events.v1.dlq dpo.requests.v1.dlq dpo.tasks.v1.dlq
acl dpo-requests topic literal Create,Describe,Read dpo.task-results.v1
acl dpo-requests topic literal Create,Describe,Read,Write identity.events.v1
acl dpo-requests topic literal Create,Describe,Write dpo.requests.v1 dpo.task-results.v1.dlq dpo.tasks.v1 identity.events.v1.dlq
acl sso-gateway group prefixed Read sso_gateway.
acl sso-gateway topic literal Create,Describe access.events.v1.dlq dpo.requests.v1 dpo.requests.v1.dlq dpo.task-results.v1.dlq identity.events.v1.dlq
acl sso-gateway topic literal Create,Describe,Read billing.events.v1 dpo.tasks.v1
acl sso-gateway topic literal Create,Describe,Write access.events.v1 billing.events.v1.dlq dpo.task-results.v1 dpo.tasks.v1.dlq identity.events.v1

echo "kafka-security: users and ACLs in place"
