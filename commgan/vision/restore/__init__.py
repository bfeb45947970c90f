"""Image restoration (``commgan restore``): the tasks as records (`tasks`: degradation, the
model that serves the task, the classical baseline), restoring and measuring an image
(`evaluate`), the command's steps callable from Python (`run`) and its files (`report`)."""
