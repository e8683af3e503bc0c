// A self-accepting module: edit the format below and the clock changes in place.
let timer;

export function startClock(element) {
  const tick = () => {
    element.textContent = `It is ${new Date().toLocaleTimeString()}`;
  };
  tick();
  timer = setInterval(tick, 1000);
}

if (import.meta.hot) {
  import.meta.hot.accept((next) => next?.startClock(document.getElementById("clock")));
  import.meta.hot.dispose(() => clearInterval(timer));
}
