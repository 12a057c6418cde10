// Run once by the mongo-init service of deploy/compose.yaml (idempotent): initiate the
// replica set, wait for a primary, create Pulse's user with access to its database only.
const members = ["mongo1:27017", "mongo2:27017", "mongo3:27017"].map((host, _id) => ({ _id, host }));
try {
  rs.status();
} catch (e) {
  rs.initiate({ _id: "rs0", members });
}
while (!db.hello().isWritablePrimary && !db.hello().primary) {
  sleep(500);
}
const pulse = db.getSiblingDB("pulse");
if (pulse.getUser("pulse") === null) {
  pulse.createUser({
    user: "pulse",
    pwd: process.env.MONGO_PULSE_PASSWORD,
    roles: [{ role: "readWrite", db: "pulse" }],
  });
}
