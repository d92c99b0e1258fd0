#!/usr/bin/env bash
# The Kafka ACLs of one si-ledger principal, by role, for a cluster with an
# authorizer (KRaft's StandardAuthorizer, allow.everyone.if.no.acl.found=false).
# Each role may do what it needs and nothing else (docs/kafka.md, "ACLs"):
#
#   bank       any publisher of the ledger topic (a bank, the register's
#              gateway, the Fund, the operator's close-month): WRITE and
#              DESCRIBE the ledger topic; WRITE and DESCRIBE its own
#              transactional ids (prefixed --transactional-prefix). It
#              cannot read the ledger topic nor write .dlq, .notices, .monthly.
#   projector  READ and DESCRIBE the ledger topic, WRITE it (a merge's
#              transfers); WRITE and DESCRIBE .dlq, .notices, .monthly; READ,
#              WRITE and DESCRIBE .members (instances serving the API announce
#              their partitions there); READ and DESCRIBE its consumer group
#              (--group, as a prefix: it covers the readers named after the
#              group, <group>-watermarks, <group>-log-identity and
#              <group>-members).
#   reporting  READ and DESCRIBE .monthly only; READ and DESCRIBE groups
#              prefixed si-ledger-reporting (`report consume`'s reader) and,
#              with --group, prefixed that too (a team's own job).
#   auditor    READ and DESCRIBE the ledger topic and .notices (replay, verify,
#              export, notices, refund status); READ and DESCRIBE groups
#              prefixed si-ledger-audit- (the throw-away groups those commands join,
#              never committed to; not the projectors' group).
#
# Usage:
#   deploy/kafka-acls.sh ROLE PRINCIPAL --bootstrap-server HOST:PORT \
#     --command-config ADMIN.properties [--topic si-ledger] [--group NAME] \
#     [--transactional-prefix PREFIX] [--remove]
#
#   ROLE        bank | projector | reporting | auditor
#   PRINCIPAL   as the cluster names it, e.g. User:bank-42
#   --topic     the ledger topic (default si-ledger)
#   --group     projector: default si-ledger-projector; reporting: another
#               prefix besides si-ledger-reporting
#   --transactional-prefix  bank: the prefix of its transactional.id values
#               (default: the principal's name and "-", e.g. bank-42-)
#   --remove    take the role's ACLs away instead (give the same --group and
#               --transactional-prefix as when granting)
#
# A principal is one user: a wildcard (User:*) is refused, since it would
# give the role to everyone. Each rule is reported as it is set; on a
# failure the tool's own message is shown, naming the rule that failed
# (the rules before it stay set: run the same command again, or --remove).
#
# The ACL tool is Kafka's kafka-acls (bin/kafka-acls.sh of a Kafka
# distribution); set KAFKA_ACLS to run another command (the tests run the
# same tool from Maven Central's jars: scripts/broker kafka-acls). The admin
# settings file holds the operator's credentials: this script never puts a
# secret in argv.
set -euo pipefail

usage() {
  sed -n '/^# Usage:/,/^# The ACL tool/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

fail() {
  echo "kafka-acls.sh: $*" >&2
  exit 2
}

[ $# -ge 2 ] || usage
role=$1 principal=$2
shift 2
topic=si-ledger group="" prefix="" action=--add bootstrap="" admin=""
while [ $# -gt 0 ]; do
  case $1 in
    --bootstrap-server | --command-config | --topic | --group | --transactional-prefix)
      [ $# -ge 2 ] && [ -n "$2" ] || fail "$1 takes a value"
      case $1 in
        --bootstrap-server) bootstrap=$2 ;;
        --command-config) admin=$2 ;;
        --topic) topic=$2 ;;
        --group) group=$2 ;;
        --transactional-prefix) prefix=$2 ;;
      esac
      shift 2 ;;
    --remove) action=--remove; shift ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done
[ -n "$bootstrap" ] || fail "--bootstrap-server HOST:PORT is required"
[ -n "$admin" ] || fail "--command-config FILE (the operator's settings) is required"
[ -r "$admin" ] || fail "cannot read the --command-config file $admin"
case $principal in
  *'*'*) fail "PRINCIPAL names one user: a wildcard ($principal) would give the role to everyone" ;;
  User:?*) ;;
  *) fail "PRINCIPAL is User:NAME, e.g. User:bank-42 (got $principal)" ;;
esac

read -r -a acls <<<"${KAFKA_ACLS:-kafka-acls.sh}"

# acl OPERATION... -- RESOURCE OPTIONS...: one allow rule set for the principal.
acl() {
  local ops=() names=() op
  while [ "$1" != -- ]; do ops+=(--operation "$1"); names+=("$1"); shift; done
  shift
  op=("${acls[@]}" --bootstrap-server "$bootstrap" --command-config "$admin" "$action"
    --allow-principal "$principal" "${ops[@]}" "$@")
  [ "$action" = --remove ] && op+=(--force)
  local out
  # kafka-acls prints its errors on standard output.
  if ! out=$("${op[@]}" 2>&1); then
    echo "kafka-acls.sh: ${action#--} ${names[*]} on $* for $principal failed:" >&2
    # The tool's message and its causes, without the stack frames.
    printf '%s\n' "$out" | grep -Ev '^\s*(at |\.\.\. [0-9]+ more|$)' | head -n 4 >&2
    exit 1
  fi
  echo "  ${action#--} ${names[*]} on $*" >&2
}

case $role in
  bank)
    acl Write Describe -- --topic "$topic"
    acl Write Describe -- --transactional-id "${prefix:-${principal#User:}-}" \
      --resource-pattern-type prefixed
    ;;
  projector)
    acl Read Write Describe -- --topic "$topic"
    # The instances serving the API announce and read each other there.
    acl Read Write Describe -- --topic "$topic.members"
    for t in dlq notices monthly; do
      acl Write Describe -- --topic "$topic.$t"
    done
    acl Read Describe -- --group "${group:-si-ledger-projector}" --resource-pattern-type prefixed
    ;;
  reporting)
    acl Read Describe -- --topic "$topic.monthly"
    acl Read Describe -- --group si-ledger-reporting --resource-pattern-type prefixed
    if [ -n "$group" ]; then
      acl Read Describe -- --group "$group" --resource-pattern-type prefixed
    fi
    ;;
  auditor)
    acl Read Describe -- --topic "$topic"
    acl Read Describe -- --topic "$topic.notices"
    acl Read Describe -- --group si-ledger-audit- --resource-pattern-type prefixed
    ;;
  *) echo "ROLE is bank, projector, reporting or auditor (got $role)" >&2; exit 2 ;;
esac
if [ "$action" = --add ]; then verb=granted; else verb=removed; fi
echo "$role $principal: ACLs $verb (ledger topic $topic)" >&2
