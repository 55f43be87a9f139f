import { render } from "preact";

import { App } from "./components/App";
import "./styles.css";

render(<App server={location.origin} />, document.getElementById("app")!);
