// A module that keeps its state across hot updates with import.meta.hot.data.
let count = import.meta.hot?.data.count ?? 0;
let button;

function render() {
  button.textContent = `clicked ${count} times`;
}

function onClick() {
  count += 1;
  render();
}

export function mountCounter(element) {
  button = element;
  button.addEventListener("click", onClick);
  render();
}

if (import.meta.hot) {
  // Re-mount the new version on the same button and drop the old listener.
  import.meta.hot.accept((next) => next?.mountCounter(button));
  import.meta.hot.dispose((data) => {
    data.count = count;
    button?.removeEventListener("click", onClick);
  });
}
