#!/bin/bash
# One round: consumers (Java, librdkafka) side by side on the primary under a steady 1,000/s stream; then producers
# (Java linger 0, librdkafka linger 0/5/20) side by side to the secondary at 1,000/s each.
set -e
PY=/work/main/.venv/bin/python
CP=$(ls /root/.cache/kafka-lab/kafka-3.9.1/libs/*.jar | tr '\n' :).
PRI=10.231.1.10:9092,10.231.1.11:9092,10.231.1.12:9092
SEC=10.231.2.10:9092,10.231.2.11:9092,10.231.2.12:9092
T=hop-$RANDOM
$PY - <<PYEOF
from confluent_kafka.admin import AdminClient, NewTopic
for b in ["$PRI", "$SEC"]:
    a = AdminClient({"bootstrap.servers": b})
    for f in a.create_topics([NewTopic("$T", 8, 2)]).values(): f.result()
PYEOF
sleep 2
java -cp $CP Hop consume $PRI $T 8 40 > java-consume.out &
$PY hop.py consume $PRI $T 8 40 > rd-consume.out &
$PY hop.py consume $PRI $T 8 40 fetch.wait.max.ms=100 > rd-consume-fw100.out &
sleep 4
PYTHONPATH=/work/main/bench $PY -c "
import multiprocessing as mp, sys
from mirrorbench.runs import _steady_producer
q = mp.Queue(); _steady_producer('$PRI', '$T', 1000, 34, 100, 8, q); print('sent', q.get())"
wait
cat java-consume.out rd-consume.out rd-consume-fw100.out
java -cp $CP Hop produce $SEC $T 8 30 1000 0 > java-produce.out &
$PY hop.py produce $SEC $T 8 30 1000 0 > rd-produce-0.out &
$PY hop.py produce $SEC $T 8 30 1000 5 > rd-produce-5.out &
$PY hop.py produce $SEC $T 8 30 1000 20 > rd-produce-20.out &
wait
cat java-produce.out rd-produce-*.out
$PY - <<PYEOF
from confluent_kafka.admin import AdminClient
for b in ["$PRI", "$SEC"]:
    a = AdminClient({"bootstrap.servers": b})
    for f in a.delete_topics(["$T"]).values(): f.result()
PYEOF
