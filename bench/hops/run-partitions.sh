#!/bin/bash
# Producers one at a time, 1,000 records/s for 30 s each to the secondary (acks=all), send to acknowledgement:
# explicit partitions round-robin over 8 (as kafka-mirror keeps the source's) against the partitioner's choice
# (Java's built-in sticky partitioner, as MirrorMaker 1 with keyless records; librdkafka's sticky for null keys).
set -e
cd "$(dirname "$0")"
PY=/work/main/.venv/bin/python
CP=$(ls /root/.cache/kafka-lab/kafka-3.9.1/libs/*.jar | tr '\n' :).
SEC=10.231.2.10:9092,10.231.2.11:9092,10.231.2.12:9092
T=hop2-$RANDOM
$PY - <<PYEOF
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": "$SEC"})
for f in a.create_topics([NewTopic("$T", 8, 2)]).values(): f.result()
PYEOF
sleep 2
for round in 1 2; do
  echo -n "explicit "; java -cp $CP Hop produce $SEC $T 8 30 1000 0 explicit 1
  echo -n "sticky "; java -cp $CP Hop produce $SEC $T 8 30 1000 0 sticky 1
  $PY hop.py produce $SEC $T 8 30 1000 0 explicit
  $PY hop.py produce $SEC $T 8 30 1000 20 explicit
  $PY hop.py produce $SEC $T 8 30 1000 0 sticky
done
$PY - <<PYEOF
from confluent_kafka.admin import AdminClient
a = AdminClient({"bootstrap.servers": "$SEC"})
for f in a.delete_topics(["$T"]).values(): f.result()
PYEOF
