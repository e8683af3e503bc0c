import { mountCounter } from "./counter.js";
import { startClock } from "./clock.js";

mountCounter(document.getElementById("counter"));
startClock(document.getElementById("clock"));
