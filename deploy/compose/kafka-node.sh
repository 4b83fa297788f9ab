#!/bin/bash
# The entrypoint of compose's cluster nodes (kafka-1, kafka-2, kafka-3), in place of the
# apache/kafka image's own, which cannot put a SCRAM credential into the storage it formats.
#
# Every KAFKA_* variable is a server property, spelt as the image spells them (KAFKA_LOG_DIRS is
# log.dirs; "__" is "_" and "___" is "-"). The security properties are this script's alone:
# every listener must be SASL_PLAINTEXT. The controller listener takes SASL/PLAIN, with the
# super user "admin" as its only user, as it must authenticate before any SCRAM credential
# exists: KRaft keeps those in the metadata log, which the controllers elect a leader to
# serve. The other listeners take SASL/SCRAM-SHA-512 (RFC 5802, RFC 7677), brokers reaching
# each other as "admin", whose SCRAM credential is formatted into the storage, so that
# replication authenticates from the first start. The StandardAuthorizer refuses whatever no
# ACL allows; kafka-security.sh creates the services' users and ACLs once the nodes run. No
# principal is a super user for want of credentials (ANONYMOUS is not one): a container of the
# network reaching a controller listener, which also takes ACL and SCRAM changes, must log in.
set -euo pipefail

BIN=${KAFKA_BIN:-/opt/kafka/bin}
CONFIG=${KAFKA_NODE_CONFIG:-/opt/kafka/config/vigie-node.properties}
ADMIN_CONFIG=${KAFKA_ADMIN_CONFIG:-/opt/kafka/config/vigie-admin.properties}
ADMIN=admin
PASSWORD=${VIGIE_KAFKA_ADMIN_PASSWORD:?set VIGIE_KAFKA_ADMIN_PASSWORD}
: "${CLUSTER_ID:?set CLUSTER_ID}"
: "${KAFKA_LISTENER_SECURITY_PROTOCOL_MAP:?set KAFKA_LISTENER_SECURITY_PROTOCOL_MAP}"
: "${KAFKA_CONTROLLER_LISTENER_NAMES:?set KAFKA_CONTROLLER_LISTENER_NAMES}"

fail() {
    echo "kafka-node: $*" >&2
    exit 1
}

# Neither the JAAS lines nor kafka-storage's --add-scram can quote these.
case $PASSWORD in
    *[,\[\]=\"\\\ \;\']*) fail 'VIGIE_KAFKA_ADMIN_PASSWORD: no , [ ] = " \ ; '"'"' or spaces' ;;
esac

# Variables of the image and of kafka-run-class.sh, and this script's own: not properties.
not_a_property() {
    case $1 in
        KAFKA_BIN | KAFKA_NODE_CONFIG | KAFKA_ADMIN_CONFIG | KAFKA_DEBUG | KAFKA_VERSION) return 0 ;;
        KAFKA_*_OPTS | KAFKA_JMX_* | KAFKA_LOG4J_*) return 0 ;;
    esac
    return 1
}

property_of() {
    local key=${1#KAFKA_}
    key=${key//___/-}
    key=${key//__/@}
    key=${key//_/.}
    key=${key//@/_}
    echo "${key,,}"
}

controller=${KAFKA_CONTROLLER_LISTENER_NAMES%%,*}
scram_listeners=()
for entry in ${KAFKA_LISTENER_SECURITY_PROTOCOL_MAP//,/ }; do
    listener=${entry%%:*}
    [[ ${entry#*:} == SASL_PLAINTEXT ]] || fail "listener $listener is ${entry#*:}: SASL_PLAINTEXT only"
    [[ $listener == "$controller" ]] || scram_listeners+=("$listener")
done

scram_jaas="org.apache.kafka.common.security.scram.ScramLoginModule required \
username=\"$ADMIN\" password=\"$PASSWORD\";"
plain_jaas="org.apache.kafka.common.security.plain.PlainLoginModule required \
username=\"$ADMIN\" password=\"$PASSWORD\" user_$ADMIN=\"$PASSWORD\";"

umask 077
mkdir -p "$(dirname "$CONFIG")" "$(dirname "$ADMIN_CONFIG")"
{
    while IFS= read -r name; do
        [[ $name == KAFKA_* ]] && ! not_a_property "$name" || continue
        key=$(property_of "$name")
        case $key in
            sasl.* | listener.name.* | authorizer.* | super.users | allow.everyone.if.no.acl.found)
                fail "$name: the security properties are kafka-node.sh's to set" ;;
        esac
        echo "$key=${!name}"
    done < <(compgen -e)
    lower=${controller,,}
    echo "listener.name.$lower.sasl.enabled.mechanisms=PLAIN"
    echo "listener.name.$lower.plain.sasl.jaas.config=$plain_jaas"
    echo "sasl.mechanism.controller.protocol=PLAIN"
    for listener in "${scram_listeners[@]}"; do
        lower=${listener,,}
        echo "listener.name.$lower.sasl.enabled.mechanisms=SCRAM-SHA-512"
        echo "listener.name.$lower.scram-sha-512.sasl.jaas.config=$scram_jaas"
    done
    echo "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512"
    echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    echo "allow.everyone.if.no.acl.found=false"
    echo "super.users=User:$ADMIN"
} > "$CONFIG"

# For the healthcheck and an operator's kafka-*.sh --command-config, inside this container.
cat > "$ADMIN_CONFIG" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$scram_jaas
EOF

# Once: a formatted log directory keeps its cluster, its data and its credentials. The
# password is on this command line for the seconds formatting takes, in a container that runs
# nothing else.
"$BIN/kafka-storage.sh" format --ignore-formatted --cluster-id "$CLUSTER_ID" --config "$CONFIG" \
    --add-scram "SCRAM-SHA-512=[name=$ADMIN,password=$PASSWORD]"

exec "$BIN/kafka-server-start.sh" "$CONFIG"
